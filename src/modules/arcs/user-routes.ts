/**
 * ARCmanager's user and group routes (specs/arcmanager.md §6.9): the hub's users (every page), an ARC's
 * members, adding, changing and removing a member with a GitLab access level, and the user's groups.
 */
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ConnectService } from "#modules/connect";
import { hubApiOf } from "./hub-api.ts";
import { sendJsonString } from "./json-string.ts";
import { projectId, tags } from "./route-schemas.ts";

/** GitLab's access levels: guest 10, reporter 20, developer 30, maintainer 40, owner 50. */
const role = z.coerce
	.number()
	.int()
	.refine((level) => [10, 20, 30, 40, 50].includes(level), "10, 20, 30, 40 or 50");
const member = z.looseObject({ id: z.number(), username: z.string(), name: z.string() });
const users = (json: unknown) =>
	z
		.array(member)
		.parse(json)
		.map((user) => ({
			id: user.id,
			username: user.username,
			name: user.name,
			state: user.state,
			avatar_url: user.avatar_url,
			web_url: user.web_url,
		}));
const userContent = z.object({
	userId: z.coerce.number().int().min(1),
	username: z.string().min(1).max(255),
	id: projectId,
	role,
});

export const userRoutes: FastifyPluginAsyncZod<{ connect: ConnectService }> = async (
	app,
	{ connect },
) => {
	const base = `${connect.prefix}/user`;
	const hubOf = (request: FastifyRequest) => hubApiOf(connect, request);
	const failures = {
		400: connect.detailBody,
		401: connect.detailBody,
		403: connect.detailBody,
		404: connect.detailBody,
		409: connect.detailBody,
		504: connect.detailBody,
	};
	const userList = z.object({ users: z.array(z.looseObject({ id: z.number() })) });

	app.get(
		`${base}/getUser`,
		{
			schema: {
				tags,
				summary: "The hub's users (every page, bots left out).",
				response: { 200: userList, ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			return {
				users: users(
					await hub.all(
						"/users",
						"Could not list the users",
						new URLSearchParams({ without_project_bots: "true" }),
					),
				),
			};
		},
	);

	app.get(
		`${base}/getArcUser`,
		{
			schema: {
				tags,
				summary: "An ARC's members.",
				querystring: z.object({ id: projectId }),
				response: { 200: userList, ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			return {
				users: users(await hub.all(`/projects/${request.query.id}/members`, "No such ARC")),
			};
		},
	);

	app.post(
		`${base}/addUser`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Add a member with an access level.",
				body: userContent,
				response: { 201: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { userId, username, id, role: level } = request.body;
			await hub.ok("POST", `/projects/${id}/members`, "Could not add the user", {
				form: new URLSearchParams({ user_id: String(userId), access_level: String(level) }),
			});
			return sendJsonString(reply, 201, `The user ${username} was added successfully!`);
		},
	);

	app.put(
		`${base}/editUser`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Change a member's access level.",
				body: userContent,
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { userId, username, id, role: level } = request.body;
			await hub.ok("PUT", `/projects/${id}/members/${userId}`, "Could not change the user", {
				query: new URLSearchParams({ access_level: String(level) }),
			});
			return sendJsonString(reply, 200, `The user ${username} was edited successfully!`);
		},
	);

	app.delete(
		`${base}/removeUser`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Remove a member.",
				querystring: z.object({
					id: projectId,
					userId: z.coerce.number().int().min(1),
					username: z.string().min(1).max(255),
				}),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, userId, username } = request.query;
			await hub.ok("DELETE", `/projects/${id}/members/${userId}`, "Could not remove the user");
			return sendJsonString(reply, 200, `The user ${username} was removed successfully!`);
		},
	);

	app.get(
		`${base}/getGroups`,
		{
			schema: {
				tags,
				summary: "The groups the user can create ARCs in.",
				response: { 200: z.array(z.object({ name: z.string(), id: z.number() })), ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			const groups = z
				.array(z.looseObject({ id: z.number(), name: z.string() }))
				.parse(await hub.all("/groups", "Could not list the groups"));
			return groups.map((group) => ({ name: group.name, id: group.id }));
		},
	);
};
