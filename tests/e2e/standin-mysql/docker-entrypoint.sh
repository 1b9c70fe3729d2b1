#!/bin/bash
# Entrypoint of the stand-in MySQL image (MariaDB from Debian bookworm) built by
# tests/e2e/offline-images.sh. It mimics the official mysql image's entrypoint
# closely enough for the project's end-to-end tests:
#
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD
#   MYSQL_ROOT_HOST (default '%'), MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,
#   each also as <NAME>_FILE (read from a file, e.g. a docker secret),
#   MYSQL_INITDB_SKIP_TZINFO, and /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz,sql.xz,sql.zst}
#
# On first start (no $DATADIR/mysql) it initialises the datadir with a temporary
# server that has networking disabled (TCP clients get "connection refused" until
# the real server is up), then it execs mariadbd in the foreground as PID 1, as
# the mysql user, so `docker stop` (SIGTERM) shuts it down cleanly. It listens
# on 0.0.0.0:3306, set in /etc/mysql/mariadb.conf.d/99-standin.cnf (from
# 99-standin.cnf beside this file), so mysqld options given as the container's
# command still win.
set -eo pipefail
shopt -s nullglob

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

mysql_log()   { local type="$1"; shift; printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$*"; }
mysql_note()  { mysql_log Note "$@"; }
mysql_warn()  { mysql_log Warn "$@" >&2; }
mysql_error() { mysql_log ERROR "$@" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR or VAR_FILE (not both) -> VAR
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		mysql_error "both $var and $fileVar are set (but are exclusive)"
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# run as the mysql user when we are root
as_mysql() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=mysql --regid=mysql --init-groups -- "$@"
	else
		"$@"
	fi
}

sql_escape_string() { local s="${1//\\/\\\\}"; printf '%s' "${s//\'/\\\'}"; }
sql_escape_ident()  { printf '%s' "${1//\`/\`\`}"; }

# client talking to the temporary (socket-only) server as root
process_sql() {
	local args=(--protocol=socket --socket="$SOCKET" -uroot)
	if [ -n "${MYSQL_ROOT_PASSWORD:-}" ] && [ "${ROOT_PASSWORD_SET:-}" ]; then
		MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb "${args[@]}" "$@"
	else
		mariadb "${args[@]}" "$@"
	fi
}

temp_server_start() {
	local cmd=(mariadbd --skip-networking --socket="$SOCKET" --datadir="$DATADIR"
		--skip-log-bin --default-time-zone=SYSTEM
		--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0
		"$@")
	# a plain command in the background (not a shell function), so $! is the
	# server's own pid (setpriv execs it) and `kill` reaches it
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=mysql --regid=mysql --init-groups -- "${cmd[@]}" &
	else
		"${cmd[@]}" &
	fi
	TEMP_PID=$!
	local _
	for _ in $(seq 60); do
		if mariadb --protocol=socket --socket="$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$TEMP_PID" 2>/dev/null || mysql_error "temporary server died during init"
		sleep 0.5
	done
	mysql_error "unable to start temporary server"
}

temp_server_stop() {
	kill -TERM "$TEMP_PID"
	wait "$TEMP_PID" || mysql_error "temporary server did not stop cleanly"
}

process_init_files() {
	local f db=()
	[ -n "${MYSQL_DATABASE:-}" ] && db=(--database="$MYSQL_DATABASE")
	for f in "$@"; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					mysql_note "$0: running $f"; "$f"
				else
					mysql_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi ;;
			*.sql)     mysql_note "$0: running $f"; process_sql "${db[@]}" < "$f" ;;
			*.sql.gz)  mysql_note "$0: running $f"; gunzip -c "$f" | process_sql "${db[@]}" ;;
			*.sql.xz)  mysql_note "$0: running $f"; xzcat "$f" | process_sql "${db[@]}" ;;
			*.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | process_sql "${db[@]}" ;;
			*)         mysql_warn "$0: ignoring $f" ;;
		esac
	done
}

init_datadir() {
	file_env MYSQL_ROOT_HOST '%'
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_ALLOW_EMPTY_PASSWORD
	file_env MYSQL_RANDOM_ROOT_PASSWORD

	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of the following as an environment variable:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
	fi
	if [ "$MYSQL_USER" = root ]; then
		mysql_error 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user'
	fi
	if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
		mysql_warn "MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created"
	elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_warn "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"
	fi
	if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
		export MYSQL_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi

	mysql_note "Initializing database files"
	as_mysql mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-log-bin --default-time-zone=SYSTEM \
		--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
		>/dev/null
	mysql_note "Database files initialized"

	mysql_note "Starting temporary server"
	temp_server_start "$@"
	mysql_note "Temporary server started."

	if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -d /usr/share/zoneinfo ]; then
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null | process_sql --database=mysql
	fi

	local rootpw root_host_sql='' db_sql='' user_sql=''
	rootpw="$(sql_escape_string "$MYSQL_ROOT_PASSWORD")"
	if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
		local rh; rh="$(sql_escape_string "$MYSQL_ROOT_HOST")"
		root_host_sql="CREATE USER 'root'@'$rh' IDENTIFIED BY '$rootpw';
GRANT ALL ON *.* TO 'root'@'$rh' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'$rh' WITH GRANT OPTION;"
	fi
	if [ -n "$MYSQL_DATABASE" ]; then
		mysql_note "Creating database ${MYSQL_DATABASE}"
		db_sql="CREATE DATABASE IF NOT EXISTS \`$(sql_escape_ident "$MYSQL_DATABASE")\`;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_note "Creating user ${MYSQL_USER}"
		local u p; u="$(sql_escape_string "$MYSQL_USER")"; p="$(sql_escape_string "$MYSQL_PASSWORD")"
		user_sql="CREATE USER '$u'@'%' IDENTIFIED BY '$p';"
		if [ -n "$MYSQL_DATABASE" ]; then
			mysql_note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
			user_sql+=" GRANT ALL ON \`$(sql_escape_ident "$MYSQL_DATABASE")\`.* TO '$u'@'%';"
		fi
	fi

	process_sql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', ''@'localhost';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'\'@\'', @@hostname, '\'');
		SET PASSWORD FOR 'root'@'localhost' = PASSWORD('${rootpw}');
		${root_host_sql}
		${db_sql}
		${user_sql}
		FLUSH PRIVILEGES;
	EOSQL
	ROOT_PASSWORD_SET=1

	echo
	process_init_files /docker-entrypoint-initdb.d/*
	temp_server_stop
	mysql_note "Temporary server stopped"
	echo
	mysql_note "MySQL init process done. Ready for start up."
	echo
}

main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- mysqld "$@"
	fi
	case "$1" in
		mysqld|mariadbd) shift; set -- mariadbd "$@" ;;
		*) exec "$@" ;;
	esac

	mysql_note "Entrypoint script for MySQL stand-in (MariaDB $(mariadbd --version | awk '{print $3}')) started."
	mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
	if [ "$(id -u)" = 0 ]; then
		chown -R mysql:mysql "$DATADIR" "$(dirname "$SOCKET")"
	fi
	if [ ! -d "$DATADIR/mysql" ]; then
		init_datadir "${@:2}"   # the server's extra options also apply during init
	fi
	# unset secrets so they do not leak into the server's environment
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_PWD
	if [ "$(id -u)" = 0 ]; then
		exec setpriv --reuid=mysql --regid=mysql --init-groups -- "$@"
	fi
	exec "$@"
}

main "$@"
