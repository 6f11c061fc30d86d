-- 0016_services (PostgreSQL): cloud services, the Helm releases a tenant launches from the
-- catalog (issue 13; docs/decisions.md "Issue 13: services, the plan").
--
-- kaiden-api writes a service and its job in one transaction and never runs helm;
-- helperd claims the job, runs helm and writes back status, error, pods, revision and
-- the revisions. op_seq grows by one at each operation the API queues; a job carries
-- the op_seq it was queued with (jobs.op_seq), and a report from helperd with a stale
-- op_seq changes nothing (store_service_report).
--
-- Secret values (the schema's secret: true) are never here in clear: secret_values is
-- the sealed JSON object (common/values_seal.h, under services.key_file), secret_names
-- the paths that are set (what the API shows as "set", and what an export carries).
--
-- reference_id is unique among a tenant's services that are not deleted; subdomain and
-- custom_domain among the platform's (a host name is one service's, whoever owns it). A
-- deleted service's row stays, as history, and frees its names. The user's plain values
-- are plain_values ("values" is an SQL keyword; the API calls them values).
--
-- helm_release (paas-ws-<tenant code>-<reference_id>) and namespace (paas-ws-<tenant
-- code>) are fixed at create, so renaming a tenant's code moves nothing. helperd
-- re-checks both whatever the row says (helm_args_check).
CREATE TABLE cloud_services (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    template_id       uuid NOT NULL REFERENCES app_templates (id) ON DELETE RESTRICT,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    reference_id      text NOT NULL
                      CHECK (reference_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    subdomain         text NOT NULL
                      CHECK (subdomain ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    custom_domain     text CHECK (custom_domain IS NULL OR
                                  (length(custom_domain) BETWEEN 4 AND 253 AND
                                   custom_domain ~ '^[a-z0-9.-]+$')),
    domain_status     text NOT NULL DEFAULT 'unverified'
                      CHECK (domain_status IN ('unverified', 'verified')),
    domain_checked_at timestamptz,
    chart_version     text NOT NULL CHECK (chart_version <> ''),
    plain_values      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(plain_values) = 'object'),
    secret_values     text,
    secret_names      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secret_names) = 'array'),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'deploying', 'running', 'failed',
                                        'upgrading', 'rolling_back', 'deleting', 'deleted')),
    error             text,
    helm_release      text NOT NULL
                      CHECK (length(helm_release) <= 53 AND helm_release LIKE 'paas-ws-%'),
    namespace         text NOT NULL
                      CHECK (length(namespace) <= 63 AND namespace LIKE 'paas-ws-%'),
    revision          integer NOT NULL DEFAULT 0 CHECK (revision >= 0),
    rollback_to       integer CHECK (rollback_to IS NULL OR rollback_to >= 1),
    pods_ready        integer NOT NULL DEFAULT 0 CHECK (pods_ready >= 0),
    pods_total        integer NOT NULL DEFAULT 0 CHECK (pods_total >= 0),
    op_seq            bigint NOT NULL DEFAULT 1 CHECK (op_seq >= 1),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deployed_at       timestamptz,
    deleted_at        timestamptz,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
    UNIQUE (tenant_id, id)
);
CREATE INDEX cloud_services_tenant_idx ON cloud_services (tenant_id, id);
CREATE INDEX cloud_services_template_idx ON cloud_services (template_id);
CREATE UNIQUE INDEX cloud_services_live_ref_idx ON cloud_services (tenant_id, reference_id)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX cloud_services_live_subdomain_idx ON cloud_services (subdomain)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX cloud_services_live_domain_idx ON cloud_services (custom_domain)
    WHERE deleted_at IS NULL AND custom_domain IS NOT NULL;

-- What each revision of the release ran with, from helm history plus what helperd
-- installed: GET /services/{id}/revisions and a rollback's check read these, never helm.
CREATE TABLE service_revisions (
    tenant_id     uuid NOT NULL,
    service_id    uuid NOT NULL,
    revision      integer NOT NULL CHECK (revision >= 1),
    status        text NOT NULL CHECK (status <> ''),
    chart_version text NOT NULL DEFAULT '',
    app_version   text NOT NULL DEFAULT '',
    description   text NOT NULL DEFAULT '',
    updated       timestamptz,
    plain_values  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(plain_values) = 'object'),
    secret_values text,
    secret_names  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secret_names) = 'array'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, revision),
    FOREIGN KEY (tenant_id, service_id) REFERENCES cloud_services (tenant_id, id)
);
CREATE INDEX service_revisions_tenant_idx ON service_revisions (tenant_id, service_id);

-- A service.* job names its service and the op_seq it was queued with.
ALTER TABLE jobs
    ADD COLUMN service_id uuid,
    ADD COLUMN op_seq bigint,
    ADD FOREIGN KEY (tenant_id, service_id) REFERENCES cloud_services (tenant_id, id);
-- The claim's "one operation per service" test looks up a service's other jobs.
CREATE INDEX jobs_service_idx ON jobs (service_id, state, id) WHERE service_id IS NOT NULL;

-- Whether a host name (a subdomain or a custom domain) is a live service's, in any
-- tenant: a tenant's transaction sees only its own rows, yet the names are the
-- platform's. Answers only yes or no, never whose.
CREATE FUNCTION kaiden_service_host_taken(p_subdomain text, p_domain text, p_except uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
BEGIN
RETURN EXISTS (SELECT 1 FROM cloud_services s
                WHERE s.deleted_at IS NULL
                  AND (p_except IS NULL OR s.id <> p_except)
                  AND ((p_subdomain IS NOT NULL AND s.subdomain = p_subdomain) OR
                       (p_domain IS NOT NULL AND s.custom_domain = p_domain)));
END
$$;

-- Whether any service (deleted ones too: their rows are history and keep the
-- reference) uses a template: DELETE /catalog/{slug} acts at platform level but asks.
CREATE FUNCTION kaiden_template_in_use(p_template uuid)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
BEGIN
RETURN (SELECT count(*) FROM cloud_services s WHERE s.template_id = p_template);
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    EXECUTE format('ALTER FUNCTION kaiden_service_host_taken(text, text, uuid) '
                   'SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION kaiden_template_in_use(uuid) '
                   'SET search_path = %I, pg_temp', current_schema());
    REVOKE ALL ON FUNCTION kaiden_service_host_taken(text, text, uuid) FROM PUBLIC;
    REVOKE ALL ON FUNCTION kaiden_template_in_use(uuid) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION kaiden_service_host_taken(text, text, uuid) TO kaiden_app;
    GRANT EXECUTE ON FUNCTION kaiden_template_in_use(uuid) TO kaiden_app;
    FOREACH t IN ARRAY ARRAY['cloud_services', 'service_revisions'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kaiden_app', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff()) '
                       'WITH CHECK (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff())',
                       t);
    END LOOP;
END
$$;
