-- Session app releases polled from GitHub (one row per project), and the version checks clients sign.
CREATE TABLE release_projects (
	name TEXT PRIMARY KEY,
	refreshed_at_ms INTEGER,
	retry_at_ms INTEGER NOT NULL DEFAULT 0,
	latest_etag TEXT,
	list_etag TEXT
);

CREATE TABLE releases (
	id INTEGER PRIMARY KEY,
	project TEXT NOT NULL REFERENCES release_projects (name) ON DELETE CASCADE,
	major INTEGER NOT NULL,
	minor INTEGER NOT NULL,
	patch INTEGER NOT NULL,
	alpha INTEGER,
	prerelease INTEGER NOT NULL,
	url TEXT NOT NULL,
	name TEXT,
	notes TEXT
);

-- An alpha number of NULL is one version, not a new one each time (UNIQUE treats NULLs as distinct).
CREATE UNIQUE INDEX releases_version ON releases (project, major, minor, patch, (COALESCE(alpha, -1)));

CREATE TABLE release_assets (
	release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	url TEXT NOT NULL,
	PRIMARY KEY (release_id, position)
);

CREATE TABLE account_version_checks (
	blinded_id TEXT NOT NULL,
	platform TEXT NOT NULL,
	channel TEXT NOT NULL,
	checked_at_ms INTEGER NOT NULL
);

CREATE INDEX account_version_checks_blinded_id ON account_version_checks (blinded_id);
CREATE INDEX account_version_checks_checked_at ON account_version_checks (checked_at_ms);
