/** What the arcs routes' schemas share: the OpenAPI tag, an ARC's project id, its branch, paths inside it. */
import { z } from "zod";

export const tags = ["arcs"];

export const projectId = z.coerce
	.number()
	.int()
	.min(1)
	.meta({ description: "The ARC's GitLab project id." });

export const branch = z.string().min(1).max(255).default("main");

/** A path that stays inside the ARC: relative, without empty, `.` or `..` segments. */
export const pathInArc = z
	.string()
	.min(1)
	.max(4_096)
	.refine(
		(path) =>
			!path.startsWith("/") &&
			!path.split("/").some((segment) => segment === "" || segment === "." || segment === ".."),
		"a path inside the ARC, without empty, . or .. segments",
	);
