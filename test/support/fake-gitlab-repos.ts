/**
 * The repository side of the fake GitLab: projects with branches of files, as the REST API v4 documents
 * them (docs.gitlab.com/api/projects, /api/repositories, /api/repository_files, /api/commits,
 * /api/branches, /api/members, /api/users, /api/groups, /api/broadcast_messages): paging with X-Total,
 * X-Total-Pages, X-Page, X-Per-Page, X-Next-Page; `last_commit_id` checks on updates (GitLab answers 400
 * "You are attempting to update a file that has changed since you started editing it."); 404 bodies as
 * `{"message":"404 … Not Found"}`. Git LFS as GitLab serves it (docs.gitlab.com/topics/git/lfs, the Git LFS
 * batch API: github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md): `POST <repo>.git/info/lfs/objects/batch`
 * with Basic `oauth2:<token>`, upload and download actions on `<repo>.git/gitlab-lfs/objects/<oid>/<size>`,
 * objects checked against their oid (the fake keeps only hash and size).
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import JSZip from "jszip";
import type { FakeGitLabUser } from "./fake-gitlab.ts";

interface StoredFile {
	readonly content: Buffer;
	readonly lastCommitId: string;
}

interface Commit {
	readonly id: string;
	readonly title: string;
	readonly createdAt: string;
}

interface FakeProject {
	readonly id: number;
	readonly name: string;
	readonly path: string;
	readonly namespace: string;
	readonly description: string;
	readonly visibility: "private" | "public";
	readonly ownerId: number;
	readonly members: Map<number, number>;
	readonly branches: Map<string, Map<string, StoredFile>>;
	readonly commits: Map<string, Commit[]>;
	/** Git LFS objects: oid → size (the fake checks the bytes' hash and keeps only that). */
	readonly lfsObjects: Map<string, number>;
	/** The bytes of the small LFS objects (up to 1 MiB), for `raw?lfs=true`. */
	readonly lfsBytes: Map<string, Buffer>;
}

export interface FakeProjectInput {
	readonly name: string;
	readonly ownerId: number;
	readonly visibility?: "private" | "public";
	readonly files?: Readonly<Record<string, string | Buffer>>;
	readonly description?: string;
}

const DEFAULT_PER_PAGE = 20;
const MAX_PER_PAGE = 100;
const STALE_EDIT =
	"You are attempting to update a file that has changed since you started editing it.";

function send(response: ServerResponse, status: number, body: unknown, headers = {}): void {
	const text = body === undefined ? "" : JSON.stringify(body);
	response
		.writeHead(status, {
			...(body === undefined ? {} : { "content-type": "application/json" }),
			"content-length": Buffer.byteLength(text),
			...headers,
		})
		.end(text);
}

function pageOf<T>(items: readonly T[], url: URL): { items: T[]; headers: Record<string, string> } {
	const perPage = Math.min(
		Number(url.searchParams.get("per_page") ?? DEFAULT_PER_PAGE) || DEFAULT_PER_PAGE,
		MAX_PER_PAGE,
	);
	const page = Math.max(Number(url.searchParams.get("page") ?? 1) || 1, 1);
	const totalPages = Math.max(Math.ceil(items.length / perPage), 1);
	return {
		items: items.slice((page - 1) * perPage, page * perPage),
		headers: {
			"x-total": String(items.length),
			"x-total-pages": String(totalPages),
			"x-page": String(page),
			"x-per-page": String(perPage),
			"x-next-page": page < totalPages ? String(page + 1) : "",
			"x-prev-page": page > 1 ? String(page - 1) : "",
		},
	};
}

const commitId = () => randomBytes(20).toString("hex");

/** The user id anonymous reads are answered as: no account has it, so only public projects are seen. */
const ANONYMOUS = 0;

/** What GitLab answers without a login, for public projects: reads below /projects/:id. */
function isPublicRead(method: string, path: string): boolean {
	return (method === "GET" || method === "HEAD") && /^\/projects\/[^/]+(\/|$)/.test(path);
}

export class FakeRepositories {
	readonly projects = new Map<number, FakeProject>();
	readonly users: ReadonlyMap<number, FakeGitLabUser>;
	readonly groups = [{ id: 9, name: "plant-lab", path: "plant-lab", full_path: "plant-lab" }];
	broadcastMessages: object[] = [];
	/** Runs once before the next file write is checked: another user's edit landing meanwhile. */
	beforeNextFileWrite: (() => void) | undefined;
	/** The next LFS object PUT is answered 200 but not kept (a store that lost it). */
	dropNextLfsObject = false;
	/** LFS object PUTs received, and their bytes. */
	lfsUploads = 0;
	lfsUploadedBytes = 0;
	#nextId = 100;
	readonly #lastActivityAt = new Map<number, string>();

	/** `users`: the fake's accounts, shared with its OAuth side. */
	constructor(users: ReadonlyMap<number, FakeGitLabUser>) {
		this.users = users;
	}

	addProject(input: FakeProjectInput): number {
		const id = this.#nextId++;
		const path = input.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
		const owner = this.users.get(input.ownerId);
		const files = new Map<string, StoredFile>();
		const initial = commitId();
		for (const [name, content] of Object.entries(input.files ?? {}))
			files.set(name, { content: Buffer.from(content), lastCommitId: initial });
		this.projects.set(id, {
			id,
			name: input.name,
			path,
			namespace: owner?.username ?? "group",
			description: input.description ?? "",
			visibility: input.visibility ?? "private",
			ownerId: input.ownerId,
			members: new Map([[input.ownerId, 50]]),
			lfsObjects: new Map(),
			lfsBytes: new Map(),
			branches: new Map([["main", files]]),
			commits: new Map([
				["main", [{ id: initial, title: "Initial commit", createdAt: "2026-11-01T10:00:00.000Z" }]],
			]),
		});
		return id;
	}

	/** A new branch with the files of `from` as they are now. */
	addBranch(projectId: number, name: string, from = "main"): void {
		const project = this.projects.get(projectId);
		const source = project?.branches.get(from);
		if (project === undefined || source === undefined)
			throw new Error(`no ${from} in ${projectId}`);
		project.branches.set(name, new Map(source));
		project.commits.set(name, [...(project.commits.get(from) ?? [])]);
	}

	/** Commits `content` to a file as another user would. */
	commitAsSomeoneElse(projectId: number, path: string, content: Buffer, branch = "main"): void {
		const project = this.projects.get(projectId);
		if (project === undefined) throw new Error(`no project ${projectId}`);
		const id = this.#commit(project, branch, `Edited ${path}`);
		project.branches.get(branch)?.set(path, { content, lastCommitId: id });
	}

	file(projectId: number, path: string, branch = "main"): Buffer | undefined {
		return this.projects.get(projectId)?.branches.get(branch)?.get(path)?.content;
	}

	paths(projectId: number, branch = "main"): string[] {
		return [...(this.projects.get(projectId)?.branches.get(branch)?.keys() ?? [])].sort();
	}

	#projectJson(project: FakeProject) {
		const web = `https://gitlab.example/${project.namespace}/${project.path}`;
		return {
			id: project.id,
			description: project.description,
			name: project.name,
			name_with_namespace: `${project.namespace} / ${project.name}`,
			path: project.path,
			path_with_namespace: `${project.namespace}/${project.path}`,
			created_at: "2026-11-01T10:00:00.000Z",
			default_branch: "main",
			tag_list: [],
			topics: [],
			ssh_url_to_repo: `git@gitlab.example:${project.namespace}/${project.path}.git`,
			http_url_to_repo: `${web}.git`,
			web_url: web,
			readme_url: null,
			avatar_url: null,
			forks_count: 0,
			star_count: 0,
			last_activity_at: this.#lastActivityAt.get(project.id) ?? "2026-11-30T12:00:00.000Z",
			visibility: project.visibility,
			namespace: {
				id: project.ownerId,
				name: project.namespace,
				path: project.namespace,
				kind: "user",
				full_path: project.namespace,
				parent_id: null,
				avatar_url: null,
				web_url: `https://gitlab.example/${project.namespace}`,
			},
		};
	}

	/** Stores `bytes` as an LFS object of the project; returns the pointer file's text. */
	addLfsObject(projectId: number, bytes: Buffer): string {
		const project = this.projects.get(projectId);
		if (project === undefined) throw new Error(`no project ${projectId}`);
		const oid = createHash("sha256").update(bytes).digest("hex");
		project.lfsObjects.set(oid, bytes.length);
		project.lfsBytes.set(oid, bytes);
		return `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${bytes.length}\n`;
	}

	lfsObject(projectId: number, oid: string): number | undefined {
		return this.projects.get(projectId)?.lfsObjects.get(oid);
	}

	/** Answers a Git LFS call (`/<namespace>/<project>.git/…`); false when the path is not one. */
	async handleLfs(
		request: IncomingMessage,
		response: ServerResponse,
		url: URL,
		userId: number,
		baseUrl: string,
		body: () => Promise<Buffer>,
	): Promise<boolean> {
		const batchPath = /^\/(.+)\.git\/info\/lfs\/objects\/batch$/.exec(url.pathname);
		const objectPath = /^\/(.+)\.git\/gitlab-lfs\/objects\/([0-9a-f]{64})\/(\d+)$/.exec(
			url.pathname,
		);
		const repository = batchPath?.[1] ?? objectPath?.[1];
		if (repository === undefined) return false;
		const project = [...this.projects.values()].find(
			(candidate) => `${candidate.namespace}/${candidate.path}` === repository,
		);
		const lfsJson = (status: number, value: unknown) =>
			response
				.writeHead(status, { "content-type": "application/vnd.git-lfs+json" })
				.end(JSON.stringify(value));
		const access = project?.members.get(userId) ?? 0;
		if (project === undefined || access === 0) {
			lfsJson(404, { message: "Not found" });
			return true;
		}
		if (batchPath !== null && request.method === "POST") {
			const input = JSON.parse((await body()).toString("utf8")) as {
				operation: string;
				objects: { oid: string; size: number | string }[];
			};
			if (input.operation === "upload" && access < 30) {
				lfsJson(403, { message: "Access forbidden. Check your access level." });
				return true;
			}
			const header = { Authorization: request.headers.authorization ?? "" };
			const objects = input.objects.map(({ oid, size }) => {
				const href = `${baseUrl}/${repository}.git/gitlab-lfs/objects/${oid}/${size}`;
				const isStored = project.lfsObjects.get(oid) === Number(size);
				if (input.operation === "download")
					return isStored
						? {
								oid,
								size: Number(size),
								authenticated: true,
								actions: { download: { href, header, expires_in: 3600 } },
							}
						: {
								oid,
								size: Number(size),
								error: {
									code: 404,
									message:
										"Object does not exist on the server or you don't have permissions to access it",
								},
							};
				return isStored
					? { oid, size: Number(size) }
					: {
							oid,
							size: Number(size),
							authenticated: true,
							actions: {
								upload: {
									href,
									header: {
										...header,
										"Content-Type": "application/octet-stream",
										"Transfer-Encoding": "chunked",
									},
									expires_in: 3600,
								},
							},
						};
			});
			lfsJson(200, { transfer: "basic", objects, hash_algo: "sha256" });
			return true;
		}
		if (objectPath !== null && request.method === "HEAD") {
			const size = project.lfsObjects.get(objectPath[2] ?? "");
			response
				.writeHead(
					size === undefined ? 404 : 200,
					size === undefined ? {} : { "content-length": size },
				)
				.end();
			return true;
		}
		if (objectPath !== null && request.method === "PUT") {
			const hash = createHash("sha256");
			let size = 0;
			const kept: Buffer[] = [];
			for await (const piece of request) {
				hash.update(piece as Buffer);
				size += (piece as Buffer).length;
				if (size <= 1024 * 1024) kept.push(piece as Buffer);
			}
			this.lfsUploads += 1;
			this.lfsUploadedBytes += size;
			const oid = objectPath[2] ?? "";
			if (hash.digest("hex") !== oid || String(size) !== objectPath[3]) {
				lfsJson(422, { message: "Unprocessable Entity" });
				return true;
			}
			if (this.dropNextLfsObject) this.dropNextLfsObject = false;
			else {
				project.lfsObjects.set(oid, size);
				if (size <= 1024 * 1024) project.lfsBytes.set(oid, Buffer.concat(kept));
			}
			response.writeHead(200, { "content-length": 0 }).end();
			return true;
		}
		lfsJson(405, { message: "Method Not Allowed" });
		return true;
	}

	/** Answers a REST call below /api/v4 when it is a repository one; false when it is not. */
	async handle(
		request: IncomingMessage,
		response: ServerResponse,
		url: URL,
		userId: number | null,
		body: () => Promise<Buffer>,
	): Promise<boolean> {
		const method = request.method ?? "GET";
		const path = url.pathname.slice("/api/v4".length);
		if (path === "/broadcast_messages") {
			send(response, 200, this.broadcastMessages);
			return true;
		}
		if (path === "/projects" && (method === "GET" || method === "HEAD")) {
			const minimum = Number(url.searchParams.get("min_access_level") ?? 0);
			const visible = [...this.projects.values()].filter((project) =>
				userId === null
					? project.visibility === "public"
					: minimum > 0
						? (project.members.get(userId) ?? 0) >= minimum
						: project.visibility === "public" || project.members.has(userId),
			);
			const { items, headers } = pageOf(visible, url);
			if (method === "HEAD") response.writeHead(200, headers).end();
			else
				send(
					response,
					200,
					items.map((project) => this.#projectJson(project)),
					headers,
				);
			return true;
		}
		if (userId === null)
			return isPublicRead(method, path) && this.handle(request, response, url, ANONYMOUS, body);
		if (path === "/projects" && method === "POST") {
			const input = JSON.parse((await body()).toString("utf8") || "{}") as {
				name?: string;
				description?: string;
				initialize_with_readme?: boolean;
				visibility?: "private" | "public";
			};
			if (input.name === undefined || input.name === "") {
				send(response, 400, { message: { name: ["can't be blank"] } });
				return true;
			}
			const id = this.addProject({
				name: input.name,
				ownerId: userId,
				visibility: input.visibility ?? "private",
				description: input.description ?? "",
				files: input.initialize_with_readme === true ? { "README.md": `# ${input.name}\n` } : {},
			});
			const created = this.projects.get(id);
			if (created !== undefined) send(response, 201, this.#projectJson(created));
			return true;
		}
		if (path === "/users" && (method === "GET" || method === "HEAD")) {
			const { items, headers } = pageOf([...this.users.values()], url);
			const users = items.map((user) => ({
				...user,
				state: "active",
				avatar_url: null,
				web_url: `https://gitlab.example/${user.username}`,
			}));
			if (method === "HEAD") response.writeHead(200, headers).end();
			else send(response, 200, users, headers);
			return true;
		}
		if (path === "/groups" && method === "GET") {
			send(response, 200, this.groups);
			return true;
		}
		const match = /^\/projects\/([^/]+)(\/.*)?$/.exec(path);
		if (match === null) return false;
		const project = this.#projectByIdOrPath(match[1] ?? "");
		const rest = match[2] ?? "";
		if (
			project === undefined ||
			!(project.visibility === "public" || project.members.has(userId))
		) {
			send(response, 404, { message: "404 Project Not Found" });
			return true;
		}
		if (rest.startsWith("/protected_branches/") && method === "PATCH") {
			const name = decodeURIComponent(rest.slice("/protected_branches/".length));
			send(response, 200, {
				name,
				allow_force_push: url.searchParams.get("allow_force_push") === "true",
			});
			return true;
		}
		if (rest === "" && method === "GET") {
			send(response, 200, { ...this.#projectJson(project), ...this.#licenseFields(project, url) });
			return true;
		}
		if (rest === "/repository/archive.zip" && method === "GET")
			return this.#archive(project, url, response);
		const ref = url.searchParams.get("ref") ?? url.searchParams.get("ref_name") ?? "main";
		if (rest === "/repository/tree" && (method === "GET" || method === "HEAD")) {
			const files = project.branches.get(ref);
			if (files === undefined) {
				send(response, 404, { message: "404 Tree Not Found" });
				return true;
			}
			const below = (url.searchParams.get("path") ?? "").replace(/\/$/, "");
			const recursive = url.searchParams.get("recursive") === "true";
			const entries = new Map<string, { type: "tree" | "blob" }>();
			for (const filePath of files.keys()) {
				if (below !== "" && !filePath.startsWith(`${below}/`)) continue;
				const relative = below === "" ? filePath : filePath.slice(below.length + 1);
				const parts = relative.split("/");
				const depth = recursive ? parts.length : 1;
				for (let index = 1; index <= depth; index += 1) {
					const entryPath = [below, ...parts.slice(0, index)].filter(Boolean).join("/");
					entries.set(entryPath, { type: index === parts.length ? "blob" : "tree" });
				}
			}
			if (below !== "" && entries.size === 0) {
				send(response, 404, { message: "404 Tree Not Found" });
				return true;
			}
			const list = [...entries]
				.sort(([a], [b]) => a.localeCompare(b))
				.map(([entryPath, { type }]) => ({
					id: createHash("sha1").update(entryPath).digest("hex"),
					name: entryPath.split("/").at(-1),
					type,
					path: entryPath,
					mode: type === "tree" ? "040000" : "100644",
				}));
			const { items, headers } = pageOf(list, url);
			if (method === "HEAD") response.writeHead(200, headers).end();
			else send(response, 200, items, headers);
			return true;
		}
		if (rest === "/repository/branches" && method === "GET") {
			send(
				response,
				200,
				[...project.branches.keys()].map((name) => ({
					name,
					default: name === "main",
					protected: name === "main",
				})),
			);
			return true;
		}
		if (rest === "/repository/commits" && method === "GET") {
			const commits = [...(project.commits.get(ref) ?? [])].reverse();
			const { items, headers } = pageOf(commits, url);
			send(
				response,
				200,
				items.map((commit) => ({
					id: commit.id,
					short_id: commit.id.slice(0, 8),
					title: commit.title,
					created_at: commit.createdAt,
					committed_date: commit.createdAt,
				})),
				headers,
			);
			return true;
		}
		if (rest === "/repository/commits" && method === "POST") {
			return this.#commitActions(project, JSON.parse((await body()).toString("utf8")), response);
		}
		const fileMatch = /^\/repository\/files\/([^/]+)(\/raw)?$/.exec(rest);
		if (fileMatch !== null)
			return this.#fileCall(
				project,
				decodeURIComponent(fileMatch[1] ?? ""),
				fileMatch[2] !== undefined,
				method,
				url,
				body,
				response,
			);
		const members = /^\/members(?:\/(\d+))?$/.exec(rest);
		if (members !== null)
			return this.#membersCall(project, members[1], method, url, body, response);
		return false;
	}

	#commit(project: FakeProject, branch: string, title: string): string {
		const id = commitId();
		const list = project.commits.get(branch) ?? [];
		list.push({
			id,
			title,
			createdAt: new Date(Date.UTC(2026, 10, 1) + list.length * 60_000).toISOString(),
		});
		project.commits.set(branch, list);
		return id;
	}

	/** The LFS object a pointer file names, when the fake kept its bytes. */
	#lfsContentOf(project: FakeProject, content: Buffer): Buffer | undefined {
		const oid =
			/^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:([0-9a-f]{64})\n/.exec(
				content.toString("utf8"),
			)?.[1];
		return oid === undefined ? undefined : project.lfsBytes.get(oid);
	}

	async #fileCall(
		project: FakeProject,
		filePath: string,
		isRaw: boolean,
		method: string,
		url: URL,
		body: () => Promise<Buffer>,
		response: ServerResponse,
	): Promise<boolean> {
		if (method === "GET" || method === "HEAD") {
			const ref = url.searchParams.get("ref") ?? "main";
			const file = project.branches.get(ref)?.get(filePath);
			if (file === undefined) {
				send(response, 404, { message: "404 File Not Found" });
				return true;
			}
			const sha256 = createHash("sha256").update(file.content).digest("hex");
			const blobId = createHash("sha1").update(file.content).digest("hex");
			const headers = {
				"x-gitlab-file-name": filePath.split("/").at(-1) ?? "",
				"x-gitlab-file-path": filePath,
				"x-gitlab-size": String(file.content.length),
				"x-gitlab-encoding": "base64",
				"x-gitlab-blob-id": blobId,
				"x-gitlab-commit-id": file.lastCommitId,
				"x-gitlab-last-commit-id": file.lastCommitId,
				"x-gitlab-content-sha256": sha256,
				"x-gitlab-ref": ref,
			};
			if (method === "HEAD") response.writeHead(200, headers).end();
			else if (
				isRaw &&
				url.searchParams.get("lfs") === "true" &&
				this.#lfsContentOf(project, file.content) !== undefined
			)
				response
					.writeHead(200, { ...headers, "content-type": "application/octet-stream" })
					.end(this.#lfsContentOf(project, file.content));
			else if (isRaw)
				response
					.writeHead(200, {
						...headers,
						"content-type": "text/plain; charset=utf-8",
						"content-length": file.content.length,
					})
					.end(file.content);
			else
				send(
					response,
					200,
					{
						file_name: headers["x-gitlab-file-name"],
						file_path: filePath,
						size: file.content.length,
						encoding: "base64",
						content_sha256: sha256,
						ref,
						blob_id: blobId,
						commit_id: file.lastCommitId,
						last_commit_id: file.lastCommitId,
						execute_filemode: false,
						content: file.content.toString("base64"),
					},
					headers,
				);
			return true;
		}
		const input = JSON.parse((await body()).toString("utf8") || "{}") as {
			branch?: string;
			content?: string;
			encoding?: string;
			commit_message?: string;
			last_commit_id?: string;
		};
		const meanwhile = this.beforeNextFileWrite;
		this.beforeNextFileWrite = undefined;
		meanwhile?.();
		const branch = input.branch ?? "";
		const files = project.branches.get(branch);
		if (files === undefined || input.commit_message === undefined) {
			send(response, 400, { message: "branch or commit_message is missing" });
			return true;
		}
		const existing = files.get(filePath);
		if (method === "POST" && existing !== undefined) {
			send(response, 400, { message: "A file with this name already exists" });
			return true;
		}
		if ((method === "PUT" || method === "DELETE") && existing === undefined) {
			send(response, 400, { message: "A file with this name doesn't exist" });
			return true;
		}
		if (
			existing !== undefined &&
			input.last_commit_id !== undefined &&
			input.last_commit_id !== existing.lastCommitId
		) {
			send(response, 400, { message: STALE_EDIT });
			return true;
		}
		const id = this.#commit(project, branch, input.commit_message);
		if (method === "DELETE") {
			files.delete(filePath);
			send(response, 204, undefined);
			return true;
		}
		const content =
			input.encoding === "base64"
				? Buffer.from(input.content ?? "", "base64")
				: Buffer.from(input.content ?? "", "utf8");
		files.set(filePath, { content, lastCommitId: id });
		send(response, method === "POST" ? 201 : 200, { file_path: filePath, branch });
		return true;
	}

	#commitActions(
		project: FakeProject,
		input: {
			branch?: string;
			commit_message?: string;
			actions?: {
				action: string;
				file_path: string;
				previous_path?: string;
				content?: string;
				encoding?: string;
				last_commit_id?: string;
			}[];
		},
		response: ServerResponse,
	): boolean {
		const files = project.branches.get(input.branch ?? "");
		if (files === undefined || input.commit_message === undefined || input.actions === undefined) {
			send(response, 400, { message: "branch, commit_message and actions are required" });
			return true;
		}
		const next = new Map(files);
		for (const action of input.actions) {
			const existing = next.get(action.previous_path ?? action.file_path);
			if (
				action.last_commit_id !== undefined &&
				existing !== undefined &&
				existing.lastCommitId !== action.last_commit_id
			) {
				send(response, 400, { message: STALE_EDIT });
				return true;
			}
			if (action.action === "create" && next.has(action.file_path)) {
				send(response, 400, { message: "A file with this name already exists" });
				return true;
			}
			if (action.action !== "create" && existing === undefined) {
				send(response, 400, { message: "A file with this name doesn't exist" });
				return true;
			}
			const content =
				action.content === undefined
					? (existing?.content ?? Buffer.alloc(0))
					: action.encoding === "base64"
						? Buffer.from(action.content, "base64")
						: Buffer.from(action.content, "utf8");
			if (action.action === "delete") next.delete(action.file_path);
			else if (action.action === "move") {
				next.delete(action.previous_path ?? "");
				next.set(action.file_path, { content, lastCommitId: "pending" });
			} else next.set(action.file_path, { content, lastCommitId: "pending" });
		}
		const id = this.#commit(project, input.branch ?? "", input.commit_message);
		files.clear();
		for (const [filePath, file] of next)
			files.set(
				filePath,
				file.lastCommitId === "pending" ? { content: file.content, lastCommitId: id } : file,
			);
		send(response, 201, {
			id,
			short_id: id.slice(0, 8),
			title: input.commit_message,
			web_url: `https://gitlab.example/-/commit/${id}`,
		});
		return true;
	}

	async #membersCall(
		project: FakeProject,
		memberId: string | undefined,
		method: string,
		url: URL,
		body: () => Promise<Buffer>,
		response: ServerResponse,
	): Promise<boolean> {
		const memberJson = (id: number, level: number) => {
			const user = this.users.get(id);
			return {
				id,
				username: user?.username,
				name: user?.name,
				state: "active",
				avatar_url: null,
				web_url: `https://gitlab.example/${user?.username}`,
				access_level: level,
			};
		};
		if (method === "GET" && memberId === undefined) {
			const { items, headers } = pageOf([...project.members], url);
			send(
				response,
				200,
				items.map(([id, level]) => memberJson(id, level)),
				headers,
			);
			return true;
		}
		if (method === "POST" && memberId === undefined) {
			const form = new URLSearchParams((await body()).toString("utf8"));
			const id = Number(form.get("user_id"));
			if (!this.users.has(id)) {
				send(response, 404, { message: "404 User Not Found" });
				return true;
			}
			if (project.members.has(id)) {
				send(response, 409, { message: "Member already exists" });
				return true;
			}
			project.members.set(id, Number(form.get("access_level")));
			send(response, 201, memberJson(id, Number(form.get("access_level"))));
			return true;
		}
		const id = Number(memberId);
		if (!project.members.has(id)) {
			send(response, 404, { message: "404 Member Not Found" });
			return true;
		}
		if (method === "PUT") {
			const level = Number(url.searchParams.get("access_level"));
			project.members.set(id, level);
			send(response, 200, memberJson(id, level));
			return true;
		}
		if (method === "DELETE") {
			project.members.delete(id);
			send(response, 204, undefined);
			return true;
		}
		return false;
	}

	// Anonymous reads, projects named by path, last activity, licenses and repository archives (the
	// search index and publishArc of the arcs module).

	/** Moves a project's last_activity_at on, as GitLab does on a push (an ISO time). */
	touch(projectId: number, at: string): void {
		this.#lastActivityAt.set(projectId, at);
	}

	/** `/projects/:id` takes the id or the URL-encoded path with namespace (docs.gitlab.com/api/rest). */
	#projectByIdOrPath(segment: string): FakeProject | undefined {
		if (/^\d+$/.test(segment)) return this.projects.get(Number(segment));
		const path = decodeURIComponent(segment);
		return [...this.projects.values()].find(
			(project) => `${project.namespace}/${project.path}` === path,
		);
	}

	/**
	 * `GET /projects/:id?license=true` adds `license` (null when no LICENSE file is found; GitLab names
	 * one it does not recognise "Other") and `license_url`.
	 */
	#licenseFields(project: FakeProject, url: URL): Record<string, unknown> {
		if (url.searchParams.get("license") !== "true") return {};
		const text = project.branches.get("main")?.get("LICENSE")?.content.toString("utf8");
		if (text === undefined) return { license_url: null, license: null };
		const web = `https://gitlab.example/${project.namespace}/${project.path}`;
		const isMit = text.startsWith("MIT License");
		return {
			license_url: `${web}/-/blob/main/LICENSE`,
			license: {
				key: isMit ? "mit" : "other",
				name: isMit ? "MIT License" : "Other",
				nickname: null,
				html_url: isMit ? "https://opensource.org/licenses/MIT" : `${web}/-/blob/main/LICENSE`,
				source_url: null,
			},
		};
	}

	/**
	 * `GET /projects/:id/repository/archive.zip?sha=<ref>` (docs.gitlab.com/api/repositories): the ref's
	 * files (the default branch without `sha`) in a zip below one folder `<path>-<ref>-<commit>/`, as
	 * GitLab names it, streamed (chunked, no Content-Length).
	 */
	#archive(project: FakeProject, url: URL, response: ServerResponse): boolean {
		const ref = url.searchParams.get("sha") ?? "main";
		const files = project.branches.get(ref);
		const commit = project.commits.get(ref)?.at(-1)?.id;
		if (files === undefined || commit === undefined) {
			send(response, 404, { message: "404 Not Found" });
			return true;
		}
		const folder = `${project.path}-${ref.replace(/\//g, "-")}-${commit}`;
		const zip = new JSZip();
		for (const [path, file] of files) zip.file(`${folder}/${path}`, file.content);
		response.writeHead(200, {
			"content-type": "application/zip",
			"content-disposition": `attachment; filename="${folder}.zip"`,
		});
		zip
			.generateNodeStream({ type: "nodebuffer", streamFiles: true, compression: "DEFLATE" })
			.pipe(response);
		return true;
	}
}
