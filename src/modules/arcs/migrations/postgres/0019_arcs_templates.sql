-- Custom Swate templates saved with /tnt/saveTemplate: the Swate template JSON a user built, keyed by the
-- hub and subject of their login and the template's identifier (a second save of one identifier replaces
-- the first). The original wrote them as files named from the request body; here nothing of the body
-- names a path.
CREATE TABLE arcs_templates (
	hub TEXT NOT NULL,
	subject TEXT NOT NULL,
	identifier TEXT NOT NULL,
	template_json TEXT NOT NULL,
	saved_at_ms BIGINT NOT NULL,
	PRIMARY KEY (hub, subject, identifier)
);
