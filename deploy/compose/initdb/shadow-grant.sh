# Sourced by the mysql image's entrypoint, once, when it initialises an empty data
# directory (a volume created earlier keeps its grants: see the README's Grants).
#
# `autogenerate` and `plan` build a temporary <database>_shadow_<id> database; the
# application user may create and drop those, and no other database.
escaped_database=$(printf '%s' "$MYSQL_DATABASE" | sed 's/_/\\_/g')
# The official images name their SQL helper docker_process_sql; the stand-in MariaDB
# image of tests/e2e/offline-images.sh names it process_sql.
if command -v docker_process_sql >/dev/null 2>&1; then
	run_sql=docker_process_sql
else
	run_sql=process_sql
fi
"$run_sql" --database=mysql <<SQL
GRANT ALL ON \`${escaped_database}\\_shadow\\_%\`.* TO '${MYSQL_USER}'@'%';
SQL
