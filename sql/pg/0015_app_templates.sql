-- 0015_app_templates (PostgreSQL): the catalog of cloud services (issue 13).
--
-- One row per application a tenant may launch from the marketplace: a Helm chart
-- pinned to an exact version, the form its settings are asked with (values_schema, the
-- JSON Schema subset of common/values_schema.h), what Kaiden's own inputs (host,
-- storage_size) set in the chart's values (inputs: {"host": ["ingress.hosts[0].host"],
-- ...}), and the values every install starts from (default_values). Platform data: no
-- tenant_id, read by every signed-in role, written by platform admins (the API) and by
-- `kaiden-api catalog load` / `migrate` (common/catalog.c checks a template whole before
-- it is written; the CHECKs here are the last line).
--
-- The chart is named in two parts: chart_repo is an OCI registry path
-- (oci://host/path: the chart is oci://host/path/<chart_name>) or an https Helm
-- repository (helm's --repo URL), chart_name the chart in it. Categories are a fixed
-- list, the same as catalog.c's (a new one needs a migration and the code).
--
-- Not tenant data, so no row-level security: kaiden_app reads and writes it in any
-- scope (as install, helperd_status).
CREATE TABLE app_templates (
    id             uuid PRIMARY KEY,
    slug           text NOT NULL UNIQUE
                   CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name           text NOT NULL CHECK (name <> ''),
    description    text NOT NULL DEFAULT '',
    icon           text NOT NULL DEFAULT '',
    category       text NOT NULL CHECK (category IN ('AI & LLM', 'Automation', 'Database',
                                                     'Cache', 'Monitoring',
                                                     'Developer tools')),
    tags           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tags) = 'array'),
    price_label    text NOT NULL DEFAULT '',
    chart_repo     text NOT NULL
                   CHECK (chart_repo LIKE 'oci://%' OR chart_repo LIKE 'https://%'),
    chart_name     text NOT NULL CHECK (chart_name <> ''),
    chart_version  text NOT NULL CHECK (chart_version <> ''),
    values_schema  jsonb NOT NULL CHECK (jsonb_typeof(values_schema) = 'object'),
    inputs         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(inputs) = 'object'),
    default_values jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(default_values) = 'object'),
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_templates_category_idx ON app_templates (category, name);

GRANT SELECT, INSERT, UPDATE, DELETE ON app_templates TO kaiden_app;
