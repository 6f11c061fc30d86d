-- 0017_service_storage (SQLite): as sql/pg/0017_service_storage.sql.
ALTER TABLE cloud_services ADD COLUMN storage_size TEXT
    CHECK (storage_size IS NULL OR (length(storage_size) BETWEEN 3 AND 9 AND
                                    storage_size GLOB '[1-9]*' AND
                                    substr(storage_size, 1, length(storage_size) - 2)
                                        NOT GLOB '*[^0-9]*' AND
                                    substr(storage_size, -2) IN ('Mi', 'Gi', 'Ti')));
