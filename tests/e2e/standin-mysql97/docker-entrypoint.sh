#!/bin/bash
# Entrypoint of the stand-in MySQL 9.7 image (Oracle MySQL from Debian sid) built
# by tests/e2e/offline-images.sh. It follows the official mysql image's
# entrypoint (same variables, same function names, so /docker-entrypoint-initdb.d
# shell scripts that call docker_process_sql keep working):
#
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD
#   MYSQL_ROOT_HOST (default '%'), MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,
#   MYSQL_ONETIME_PASSWORD, each also as <NAME>_FILE (e.g. a docker secret),
#   MYSQL_INITDB_SKIP_TZINFO, and /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz,sql.xz,sql.zst}
#
# On first start (no $DATADIR/mysql) it runs `mysqld --initialize-insecure`, then a
# temporary server with networking off (socket only: TCP clients get "connection
# refused" until the real server is up) that sets the root password and hosts,
# creates the database and the user (MySQL 9's default auth plugin,
# caching_sha2_password) and runs the initdb.d files; then it stops that server
# and execs mysqld in the foreground as PID 1, as the mysql user, so `docker stop`
# (SIGTERM) shuts it down cleanly. The server settings (0.0.0.0:3306,
# secure-file-priv /var/lib/mysql-files, no X Protocol) are in
# /etc/mysql/conf.d/99-standin.cnf (99-standin.cnf beside this file); mysqld
# options given as the container's command win and also apply during init.
set -eo pipefail
shopt -s nullglob

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

# -?, --help, -V, --version: just run the command
_mysql_want_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?'|--help|--print-defaults|-V|--version) return 0 ;;
		esac
	done
	return 1
}

# The server's effective settings with the container's options: checks them
# (mysqld exits non-zero on a bad option) and sets MYSQLD_CONFIG.
mysql_check_config() {
	local toRun=("$@" --verbose --help --log-bin-index="$(mktemp -u)") errors errfile
	errfile="$(mktemp)"
	if ! MYSQLD_CONFIG="$("${toRun[@]}" 2>"$errfile")"; then
		errors="$(cat "$errfile")"
		rm -f "$errfile"
		mysql_error $'mysqld failed while attempting to check config\n\tcommand was: '"${toRun[*]}"$'\n\t'"$errors"
	fi
	rm -f "$errfile"
}

# mysql_get_config NAME: one value from MYSQLD_CONFIG (empty if unset)
mysql_get_config() {
	awk -v conf="$1" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }' <<<"$MYSQLD_CONFIG" \
		| sed 's/^(No default value)$//'
}

docker_setup_env() {
	DATADIR="$(mysql_get_config datadir)"
	DATADIR="${DATADIR%/}"
	SOCKET="$(mysql_get_config socket)"
	SECURE_FILE_PRIV="$(mysql_get_config secure-file-priv)"
	[ "$SECURE_FILE_PRIV" = NULL ] && SECURE_FILE_PRIV=""
	file_env MYSQL_ROOT_HOST '%'
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_ALLOW_EMPTY_PASSWORD
	file_env MYSQL_RANDOM_ROOT_PASSWORD
	file_env MYSQL_ONETIME_PASSWORD
	DATABASE_ALREADY_EXISTS=""
	if [ -d "$DATADIR/mysql" ]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

docker_create_db_directories() {
	local d
	for d in "$DATADIR" "$(dirname "$SOCKET")" "$SECURE_FILE_PRIV"; do
		[ -n "$d" ] || continue
		mkdir -p "$d"
		if [ "$(id -u)" = 0 ]; then
			# only what is not already ours (a big existing datadir stays fast)
			find "$d" \! -user mysql -exec chown mysql:mysql '{}' +
		fi
	done
	if [ -n "$SECURE_FILE_PRIV" ] && [ "$(id -u)" = 0 ]; then
		chmod 0750 "$SECURE_FILE_PRIV"
	fi
}

docker_verify_minimum_env() {
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
}

# a string literal's content for '...' (NO_BACKSLASH_ESCAPES is cleared before use)
docker_sql_escape_string_literal() {
	local newline=$'\n' escaped="${1//\\/\\\\}"
	escaped="${escaped//$newline/\\n}"
	printf '%s' "${escaped//\'/\\\'}"
}
sql_escape_ident() { printf '%s' "${1//\`/\`\`}"; }

# [client] option file with the root password, for --defaults-extra-file
_mysql_passfile() {
	if [ '--dont-use-mysql-root-password' != "${1:-}" ] && [ -n "$MYSQL_ROOT_PASSWORD" ]; then
		# option files unescape \\ (and \n, \t, ...) inside quoted values
		printf '[client]\npassword="%s"\n' "${MYSQL_ROOT_PASSWORD//\\/\\\\}"
	fi
}

# docker_process_sql [--dont-use-mysql-root-password] [mysql options]: SQL from
# stdin, as root over the temporary server's socket, in MYSQL_DATABASE if set
docker_process_sql() {
	local passfileArgs=()
	if [ '--dont-use-mysql-root-password' = "${1:-}" ]; then
		passfileArgs+=("$1")
		shift
	fi
	if [ -n "$MYSQL_DATABASE" ]; then
		set -- --database="$MYSQL_DATABASE" "$@"
	fi
	mysql --defaults-extra-file=<(_mysql_passfile "${passfileArgs[@]}") \
		--protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

docker_init_database_dir() {
	mysql_note "Initializing database files"
	"$@" --initialize-insecure --default-time-zone=SYSTEM
	mysql_note "Database files initialized"
}

docker_temp_server_start() {
	# in the background, not --daemonize: $! is the server's pid, for the wait below
	"$@" --skip-networking --skip-log-bin --default-time-zone=SYSTEM --socket="$SOCKET" \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
	TEMP_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		if mysql --no-defaults --protocol=socket --socket="$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$TEMP_PID" 2>/dev/null || mysql_error "temporary server died during init"
		sleep 0.2
	done
	mysql_error "unable to start temporary server"
}

docker_temp_server_stop() {
	kill -TERM "$TEMP_PID"
	wait "$TEMP_PID" || mysql_error "temporary server did not stop cleanly"
}

docker_setup_db() {
	if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -d /usr/share/zoneinfo ]; then
		# sed: https://bugs.mysql.com/bug.php?id=20545; root has no password yet
		{
			echo 'SET @@SESSION.SQL_LOG_BIN=0;'
			mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null \
				| sed 's/Local time zone must be set--see zic manual page/FCTY/'
		} | docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi

	if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
		MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
		export MYSQL_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi

	local rootpw rootCreate=''
	rootpw="$(docker_sql_escape_string_literal "$MYSQL_ROOT_PASSWORD")"
	if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
		local rh
		rh="$(docker_sql_escape_string_literal "$MYSQL_ROOT_HOST")"
		rootCreate="CREATE USER 'root'@'$rh' IDENTIFIED BY '$rootpw';
GRANT ALL ON *.* TO 'root'@'$rh' WITH GRANT OPTION;"
	fi

	# root has no password until this runs
	docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		-- what is done here should not be replicated
		SET @@SESSION.SQL_LOG_BIN=0;
		-- the password literals below use backslash escapes
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${rootpw}';
		GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
		FLUSH PRIVILEGES;
		${rootCreate}
		DROP DATABASE IF EXISTS test;
	EOSQL

	if [ -n "$MYSQL_DATABASE" ]; then
		mysql_note "Creating database ${MYSQL_DATABASE}"
		docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$(sql_escape_ident "$MYSQL_DATABASE")\`;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_note "Creating user ${MYSQL_USER}"
		local u p
		u="$(docker_sql_escape_string_literal "$MYSQL_USER")"
		p="$(docker_sql_escape_string_literal "$MYSQL_PASSWORD")"
		# no IDENTIFIED WITH: the server's default plugin (caching_sha2_password),
		# as with the official image
		docker_process_sql --database=mysql <<-EOSQL
			SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
			CREATE USER '$u'@'%' IDENTIFIED BY '$p';
		EOSQL
		if [ -n "$MYSQL_DATABASE" ]; then
			mysql_note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
			# \_ : a literal underscore, not GRANT's one-character wildcard
			local grantdb
			grantdb="$(sql_escape_ident "$MYSQL_DATABASE")"
			docker_process_sql --database=mysql <<<"GRANT ALL ON \`${grantdb//_/\\_}\`.* TO '$u'@'%';"
		fi
	fi
}

docker_process_init_files() {
	local f
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
			*.sql)     mysql_note "$0: running $f"; docker_process_sql < "$f" ;;
			*.sql.gz)  mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
			*.sql.xz)  mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql ;;
			*.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
			*)         mysql_warn "$0: ignoring $f" ;;
		esac
		echo
	done
}

mysql_expire_root_user() {
	if [ -n "$MYSQL_ONETIME_PASSWORD" ]; then
		docker_process_sql --database=mysql <<<"ALTER USER 'root'@'%' PASSWORD EXPIRE;"
	fi
}

_main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- mysqld "$@"
	fi
	if [ "$1" != mysqld ] || _mysql_want_help "$@"; then
		exec "$@"
	fi

	mysql_note "Entrypoint script for MySQL Server stand-in ($(mysqld --version | awk '{ print $3 }')) started."
	mysql_check_config "$@"
	docker_setup_env "$@"
	docker_create_db_directories
	if [ "$(id -u)" = 0 ]; then
		mysql_note "Switching to dedicated user 'mysql'"
		exec setpriv --reuid=mysql --regid=mysql --init-groups -- "${BASH_SOURCE[0]}" "$@"
	fi

	if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
		docker_verify_minimum_env
		# fail early if the initdb.d directory is not readable
		ls /docker-entrypoint-initdb.d/ >/dev/null
		docker_init_database_dir "$@"
		mysql_note "Starting temporary server"
		docker_temp_server_start "$@"
		mysql_note "Temporary server started."
		docker_setup_db
		echo
		docker_process_init_files /docker-entrypoint-initdb.d/*
		mysql_expire_root_user
		mysql_note "Stopping temporary server"
		docker_temp_server_stop
		mysql_note "Temporary server stopped"
		echo
		mysql_note "MySQL init process done. Ready for start up."
		echo
	fi
	# secrets do not go into the server's environment
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MYSQL_PWD
	exec "$@"
}

_main "$@"
