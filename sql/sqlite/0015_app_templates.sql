-- 0015_app_templates (SQLite): as sql/pg/0015_app_templates.sql. JSON columns are text
-- that must be valid JSON of the right kind; enabled is 0/1.
CREATE TABLE app_templates (
    id             TEXT PRIMARY KEY,
    slug           TEXT NOT NULL UNIQUE
                   CHECK (length(slug) BETWEEN 1 AND 63 AND slug NOT GLOB '*[^a-z0-9-]*'
                          AND slug NOT GLOB '-*' AND slug NOT GLOB '*-'),
    name           TEXT NOT NULL CHECK (name <> ''),
    description    TEXT NOT NULL DEFAULT '',
    icon           TEXT NOT NULL DEFAULT '',
    category       TEXT NOT NULL CHECK (category IN ('AI & LLM', 'Automation', 'Database',
                                                     'Cache', 'Monitoring',
                                                     'Developer tools')),
    tags           TEXT NOT NULL DEFAULT '[]'
                   CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    price_label    TEXT NOT NULL DEFAULT '',
    chart_repo     TEXT NOT NULL
                   CHECK (chart_repo LIKE 'oci://%' OR chart_repo LIKE 'https://%'),
    chart_name     TEXT NOT NULL CHECK (chart_name <> ''),
    chart_version  TEXT NOT NULL CHECK (chart_version <> ''),
    values_schema  TEXT NOT NULL
                   CHECK (json_valid(values_schema) AND json_type(values_schema) = 'object'),
    inputs         TEXT NOT NULL DEFAULT '{}'
                   CHECK (json_valid(inputs) AND json_type(inputs) = 'object'),
    default_values TEXT NOT NULL DEFAULT '{}'
                   CHECK (json_valid(default_values) AND json_type(default_values) = 'object'),
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX app_templates_category_idx ON app_templates (category, name);
