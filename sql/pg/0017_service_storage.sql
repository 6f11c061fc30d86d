-- 0017_service_storage: a service's storage size (issue 13), Kaiden's own input
-- storage_size (app_templates.inputs maps it to the chart's keys, e.g. PostgreSQL's
-- primary.persistence.size). NULL: the template's default_values decide. A whole number
-- of MiB, GiB or TiB as Kubernetes writes it ("8Gi"); the API checks the bounds (1Gi up to
-- the tenant's services_storage quota), this CHECK only the form.
ALTER TABLE cloud_services ADD COLUMN storage_size text
    CHECK (storage_size IS NULL OR storage_size ~ '^[1-9][0-9]{0,6}(Mi|Gi|Ti)$');
