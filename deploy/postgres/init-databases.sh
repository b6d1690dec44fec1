#!/usr/bin/env bash
# One database per service, each owned by its own role (DESIGN.md §3: no service reads
# another's tables). Run once by the postgres image (/docker-entrypoint-initdb.d/) on an empty
# volume; idempotent, so it can also be run by hand against an existing server.
#
# Environment: POSTGRES_USER / POSTGRES_DB (the image's superuser and its database) and one
# password per service: PRISME_<SVC>_DB_PASSWORD (SVC = DASHBOARD CONTRACTS BILLING LICENCE VIDEO BACKUP WEBHOOKS).
set -euo pipefail

for svc in dashboard contracts billing licence video backup webhooks; do
  var="PRISME_${svc^^}_DB_PASSWORD"
  password="${!var:?$var must be set}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
       -v svc="$svc" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'svc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'svc') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'svc', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'svc', :'svc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'svc') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'svc') \gexec
SQL
  echo "database $svc ready"
done
