-- The search index of public ARCs (search/getArcJson), one row per hub and project, rebuilt by the leased
-- job arcs.search_index. `document` is the JSON the route answers; `last_activity_at` is GitLab's value when
-- the project's files were last read (unchanged: not read again); `listed_run` names the latest run whose
-- listing of the hub's public projects held it, so a project left out of a finished listing is found.
CREATE TABLE arcs_search_index (
	hub TEXT NOT NULL,
	project_id BIGINT NOT NULL,
	last_activity_at TEXT NOT NULL,
	document TEXT NOT NULL,
	listed_run TEXT NOT NULL,
	read_at_ms BIGINT NOT NULL,
	PRIMARY KEY (hub, project_id)
);
