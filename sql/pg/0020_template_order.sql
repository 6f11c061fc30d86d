-- 0020_template_order: app_templates.values_schema keeps the order its author wrote
-- (issue 13, docs/decisions.md "Issue 13: the form's order"). The portal builds a
-- service's settings form in the order of values_schema's properties; jsonb stores an
-- object with its keys sorted (shorter first, then bytewise), so "Application user"
-- came after "Database" on PostgreSQL while SQLite, which keeps the text, had them as
-- catalog.yaml writes them. json keeps the text as written (and checks it is JSON).
--
-- No query compares, indexes or takes a member of values_schema in SQL (the code reads
-- it whole and works on it in C), so json, which has no equality operator, is enough.
-- The text already stored here is jsonb's, in sorted order: `kaiden-api migrate`
-- puts the built-in templates' order back after this migration (fcgi-app/admin.c),
-- where the stored schema still says the same as the built-in one; a template written
-- through the API keeps the order jsonb left until it is written again.
ALTER TABLE app_templates DROP CONSTRAINT app_templates_values_schema_check;
ALTER TABLE app_templates ALTER COLUMN values_schema TYPE json USING values_schema::json;
ALTER TABLE app_templates ADD CONSTRAINT app_templates_values_schema_check
    CHECK (json_typeof(values_schema) = 'object');
