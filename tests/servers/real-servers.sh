#!/usr/bin/env bash
# tests/servers/real-servers.sh -- real MySQL 9.7 and MariaDB 11.8 for the tests.
#
# WHAT IT DOES
#   Runs two real database servers on this machine (Debian bookworm, as root),
#   each from its own Debian root filesystem started with chroot, because
#   neither server installs on bookworm itself (newer libc/libstdc++ needed):
#     mysql97     Oracle MySQL 9.7   from Debian sid    (mysql-server-core, mysql-client)
#     mariadb118  MariaDB 11.8       from Debian trixie (mariadb-server, mariadb-client)
#   The roots are built once per machine with `debootstrap --variant=minbase`
#   from the mirror apt already uses (/etc/apt/sources.list.d/debian.sources)
#   and cached; data directories live inside the roots (/srv/<server>/data).
#   See /work/shared/reference/real-servers.md for the recipe this follows.
#
# USAGE
#   bash tests/servers/real-servers.sh up        build (once), init (once), start, provision; idempotent
#   bash tests/servers/real-servers.sh env       print TEST_DATABASE_URL_* lines (stdout only)
#   bash tests/servers/real-servers.sh ca NAME   print the path of the CA of the server's own
#                                                certificate (MySQL's ca.pem; empty for MariaDB)
#   bash tests/servers/real-servers.sh status    one line per server; exit 1 if one is not running
#   bash tests/servers/real-servers.sh restart mysql97|mariadb118
#                                                stop + start one server; no account logs in over
#                                                TCP afterwards, so the next TCP login is a "first
#                                                login after restart" (caching_sha2 full auth)
#   bash tests/servers/real-servers.sh down      stop both (SIGTERM via pid file, wait), unmount
#                                                /proc and /dev/shm inside the roots
#   Typical CI use:   bash tests/servers/real-servers.sh up && export $(bash tests/servers/real-servers.sh env)
#   Progress and timings go to stderr. Any failure exits non-zero with a message
#   (with CI=true the message is also prefixed "::error::" for CI logs).
#
# PORTS (127.0.0.1 only)
#   MySQL 9.7     3307  (env MYSQL97_PORT)      X Protocol off
#   MariaDB 11.8  3308  (env MARIADB118_PORT)   the host's own MariaDB on 3306 is never touched
#
# ACCOUNTS
#   migrator_admin / admin-Pw-1, host '%', ALL PRIVILEGES ON *.* WITH GRANT OPTION,
#   created with each server's default auth plugin (MySQL 9.7: caching_sha2_password,
#   MariaDB 11.8: mysql_native_password). Database `test` exists on both.
#   root has no password. MySQL 9.7: root@localhost only, i.e. only through the Unix
#   socket inside the root, e.g.  chroot $ROOT mysql --no-defaults -uroot -S /srv/mysql/run/mysqld.sock
#   MariaDB 11.8 (mariadb-install-db): also root@127.0.0.1 and root@::1, so passwordless
#   root works over TCP on loopback there.
#   MariaDB 11.8 also has the ed25519 and parsec auth plugins installed
#   (INSTALL SONAME), so tests can create users IDENTIFIED VIA ed25519 / parsec.
#
# SERVER SETTINGS
#   Defaults, except: bind 127.0.0.1, max_connections=1000, innodb_buffer_pool_size=256M,
#   skip_name_resolve. MySQL 9.7 keeps caching_sha2_password, its auto-generated TLS
#   certificates (CN does not match 127.0.0.1) and its binary log. MariaDB 11.8 has TLS on
#   with the self-signed certificate it generates itself at startup (11.4+ behaviour).
#
# FILES
#   $MIGRATOR_SERVERS_DIR (default /var/tmp/migrator-servers)/
#     mysql97/, mariadb118/      the root filesystems (several hundred MB each)
#     <name>.build.log           debootstrap output
#     .lock                      serialises concurrent `up`/`down`/`restart` calls
#   Inside each root: /srv/<mysql|mariadb>/{data,run,error.log,console.log}
#   To throw everything away: `down` first (it unmounts /proc and /dev/shm in the
#   roots), then rm -rf --one-file-system the directory.
set -euo pipefail

SERVERS_DIR=${MIGRATOR_SERVERS_DIR:-/var/tmp/migrator-servers}
MYSQL97_PORT=${MYSQL97_PORT:-3307}
MARIADB118_PORT=${MARIADB118_PORT:-3308}
ADMIN_USER=migrator_admin
ADMIN_PASSWORD=admin-Pw-1
TEST_DB=test
READY_TIMEOUT=${MIGRATOR_SERVERS_READY_TIMEOUT:-120}   # seconds to wait for a server
STOP_TIMEOUT=${MIGRATOR_SERVERS_STOP_TIMEOUT:-120}     # seconds to wait for a clean shutdown
SERVERS=(mysql97 mariadb118)

T0=${EPOCHREALTIME/[.,]/}   # microseconds

log() {
    local us=$((${EPOCHREALTIME/[.,]/} - T0))
    printf '[real-servers %3d.%01ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*" >&2
}
die() {
    if [[ ${CI:-} == true ]]; then printf '::error::real-servers: %s\n' "$*" >&2; fi
    printf '[real-servers] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- per-server facts
# srv_* variables describe one server; `select_server NAME` sets them.
select_server() {
    NAME=$1
    ROOT=$SERVERS_DIR/$NAME
    case $NAME in
    mysql97)
        SUITE=sid
        PACKAGES=mysql-server-core,mysql-client
        SRV=/srv/mysql                # path inside the root
        PORT=$MYSQL97_PORT
        DAEMON=mysqld
        CLIENT=mysql
        ;;
    mariadb118)
        SUITE=trixie
        # auth_ed25519.so and auth_parsec.so are both shipped by mariadb-server
        # itself in trixie (/usr/lib/mysql/plugin/); no extra package is needed.
        # They are checked for after the build anyway.
        PACKAGES=mariadb-server,mariadb-client
        SRV=/srv/mariadb
        PORT=$MARIADB118_PORT
        DAEMON=mariadbd
        CLIENT=mariadb
        ;;
    *) die "unknown server '$NAME' (expected one of: ${SERVERS[*]})" ;;
    esac
    SOCK=$SRV/run/mysqld.sock
    PIDFILE=$SRV/run/mysqld.pid
}

# Run a command inside the root with a clean environment (no MYSQL_* or TZ
# from the caller leaking into the server or the client).
in_root() {
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 chroot "$ROOT" "$@"
}

# SQL as root over the Unix socket inside the root.
root_sql() {
    in_root "$CLIENT" --no-defaults -uroot -S "$SOCK" --batch --skip-column-names "$@"
}

# ---------------------------------------------------------------- build
unmount_under() { # unmount everything mounted at or below $1 (deepest first)
    local dir m
    dir=$(realpath -m "$1")
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts |
        sort -r | while read -r m; do umount -l "$m" || true; done
}

ensure_debootstrap() {
    # Once, before the builds run in parallel (two apt-gets would fight over dpkg's lock).
    command -v debootstrap >/dev/null && return 0
    log "installing debootstrap"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends debootstrap; } >&2 ||
        die "debootstrap is not installed and could not be (apt-get install debootstrap)"
}

build_root() {
    if [[ -f $ROOT/.migrator-root-complete ]]; then
        return 0
    fi
    [[ -e $ROOT ]] && die "$ROOT exists but is not a finished root; remove it (after 'down')"
    command -v debootstrap >/dev/null || die "debootstrap is not installed"
    local mirror tmp t started
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    # Leftovers of an interrupted build: unmount whatever debootstrap left, remove.
    for t in "$SERVERS_DIR"/.build-"$NAME".*; do
        [[ -e $t ]] || continue
        log "$NAME: removing interrupted build $t"
        unmount_under "$t"
        rm -rf --one-file-system "$t"
    done
    tmp=$(mktemp -d "$SERVERS_DIR/.build-$NAME.XXXXXX")
    started=$SECONDS
    log "$NAME: debootstrap $SUITE ($PACKAGES) from $mirror -> $ROOT (1-3 min; log: $SERVERS_DIR/$NAME.build.log)"
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$mirror" \
        >"$SERVERS_DIR/$NAME.build.log" 2>&1; then
        tail -n 25 "$SERVERS_DIR/$NAME.build.log" >&2 || true
        unmount_under "$tmp"
        rm -rf --one-file-system "$tmp"
        die "$NAME: debootstrap failed (full log: $SERVERS_DIR/$NAME.build.log)"
    fi
    unmount_under "$tmp"
    cp /etc/hosts "$tmp/etc/hosts" # mariadb-install-db fails without it
    rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"* 2>/dev/null || true
    if [[ $NAME == mariadb118 ]]; then
        local p
        for p in auth_ed25519.so auth_parsec.so; do
            [[ -f $tmp/usr/lib/mysql/plugin/$p ]] ||
                die "$NAME: $p missing from the built root (package layout changed?)"
        done
    fi
    touch "$tmp/.migrator-root-complete"
    mv -T "$tmp" "$ROOT"
    log "$NAME: root built in $((SECONDS - started))s"
}

# ---------------------------------------------------------------- run state
mount_pseudo() {
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mountpoint -q "$ROOT/dev/shm" || { mkdir -p "$ROOT/dev/shm" && mount -t tmpfs tmpfs "$ROOT/dev/shm"; }
}

# Prints the server's pid if it is running from this root, else returns 1.
# (No pid namespace: the pid in the pid file is the host pid.)
server_pid() {
    local pid
    [[ -f $ROOT$PIDFILE ]] || return 1
    pid=$(tr -dc 0-9 <"$ROOT$PIDFILE")
    [[ -n $pid && -d /proc/$pid ]] || return 1
    [[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$(realpath "$ROOT")" ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$DAEMON" ]] || return 1
    echo "$pid"
}

init_datadir() {
    [[ -f $ROOT$SRV/initialised ]] && return 0
    local started=$SECONDS
    mkdir -p "$ROOT$SRV/run" "$ROOT$SRV/files"
    rm -rf --one-file-system "$ROOT$SRV/data" # half-initialised leftovers
    log "$NAME: initialising data directory $SRV/data"
    case $NAME in
    mysql97)
        in_root mysqld --no-defaults --initialize-insecure --user=root \
            --datadir="$SRV/data" --log-error="$SRV/init.log" ||
            { tail -n 20 "$ROOT$SRV/init.log" >&2; die "$NAME: mysqld --initialize-insecure failed"; }
        ;;
    mariadb118)
        in_root mariadb-install-db --no-defaults --datadir="$SRV/data" --user=root \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$ROOT$SRV/init.log" 2>&1 ||
            { tail -n 20 "$ROOT$SRV/init.log" >&2; die "$NAME: mariadb-install-db failed"; }
        ;;
    esac
    touch "$ROOT$SRV/initialised"
    log "$NAME: initialised in $((SECONDS - started))s"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_server() {
    local args pid
    if pid=$(server_pid); then
        log "$NAME: already running (pid $pid, port $PORT)"
        return 0
    fi
    rm -f "$ROOT$PIDFILE" "$ROOT$SOCK" "$ROOT$SOCK.lock"
    if port_in_use "$PORT"; then
        die "$NAME: port $PORT is already in use by another process (set ${NAME^^}_PORT?): $(ss -ltnpH "sport = :$PORT" 2>/dev/null || true)"
    fi
    args=(--no-defaults --user=root --datadir="$SRV/data"
        --port="$PORT" --bind-address=127.0.0.1 --socket="$SOCK"
        --pid-file="$PIDFILE" --log-error="$SRV/error.log"
        --max-connections=1000 --innodb-buffer-pool-size=256M
        --skip-name-resolve)
    case $NAME in
    mysql97) args+=(--mysqlx=OFF --secure-file-priv="$SRV/files") ;;
    mariadb118) ;; # TLS: 11.8 generates its own self-signed certificate at startup
    esac
    log "$NAME: starting $DAEMON on 127.0.0.1:$PORT"
    # New session (setsid), stdin/stdout/stderr away from the caller: the server
    # outlives this script and never holds the caller's pipes open. Without job
    # control the background child is no process-group leader, so setsid does
    # not fork and $! is the server itself.
    # Every descriptor above 2 is closed first: an inherited fd 9 would keep the
    # flock on .lock held for the server's whole life (every later call would
    # hang), and an inherited pipe of the caller would never see EOF.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            chroot "$ROOT" "$DAEMON" "${args[@]}" </dev/null >>"$ROOT$SRV/console.log" 2>&1
    ) &
    STARTED_PID=$!
}

# Waits until root can run SQL over the socket (the server accepts logins).
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT)) started=$SECONDS
    until root_sql -e 'SELECT 1' >/dev/null 2>&1; do
        if [[ -n ${STARTED_PID:-} ]] && ! kill -0 "$STARTED_PID" 2>/dev/null && ! server_pid >/dev/null; then
            tail -n 30 "$ROOT$SRV/error.log" >&2 || true
            die "$NAME: $DAEMON exited during startup (log: $ROOT$SRV/error.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$ROOT$SRV/error.log" >&2 || true
            die "$NAME: not accepting logins after ${READY_TIMEOUT}s (log: $ROOT$SRV/error.log)"
        fi
        sleep 0.3
    done
    server_pid >/dev/null || die "$NAME: answers on its socket but its pid file $ROOT$PIDFILE is not valid"
    log "$NAME: accepting logins (waited $((SECONDS - started))s)"
}

# Account, database, plugins. Idempotent; no password is reset. Statements run
# only when something is missing: on MySQL a repeated CREATE USER IF NOT EXISTS
# or GRANT still lands in the binary log and the error log.
provision() {
    local have_user have_db
    have_user=$(root_sql -e "SELECT COUNT(*) FROM mysql.user WHERE user='$ADMIN_USER' AND host='%'") ||
        die "$NAME: cannot query mysql.user"
    if [[ $have_user == 0 ]]; then
        root_sql -e "CREATE USER IF NOT EXISTS '$ADMIN_USER'@'%' IDENTIFIED BY '$ADMIN_PASSWORD';
            GRANT ALL PRIVILEGES ON *.* TO '$ADMIN_USER'@'%' WITH GRANT OPTION;" ||
            die "$NAME: creating $ADMIN_USER failed"
        log "$NAME: created account $ADMIN_USER@'%'"
    fi
    have_db=$(root_sql -e "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='$TEST_DB'") ||
        die "$NAME: cannot query information_schema.SCHEMATA"
    if [[ $have_db == 0 ]]; then
        root_sql -e "CREATE DATABASE IF NOT EXISTS \`$TEST_DB\`" || die "$NAME: creating database $TEST_DB failed"
        log "$NAME: created database $TEST_DB"
    fi
    if [[ $NAME == mariadb118 ]]; then
        local plugin soname
        for plugin in ed25519 parsec; do
            soname=auth_$plugin
            if [[ $(root_sql -e "SELECT COUNT(*) FROM information_schema.PLUGINS
                    WHERE PLUGIN_NAME='$plugin' AND PLUGIN_STATUS='ACTIVE'") == 0 ]]; then
                root_sql -e "INSTALL SONAME '$soname'" 2>&1 | grep -v 'already installed' >&2 || true
                [[ $(root_sql -e "SELECT COUNT(*) FROM information_schema.PLUGINS
                    WHERE PLUGIN_NAME='$plugin' AND PLUGIN_STATUS='ACTIVE'") == 1 ]] ||
                    die "$NAME: INSTALL SONAME '$soname' did not activate plugin $plugin"
                log "$NAME: installed auth plugin $plugin"
            fi
        done
    fi
}

# A real TCP login as the admin account (TLS is negotiated by the client).
tcp_login() {
    local out
    out=$(in_root "$CLIENT" --no-defaults -h127.0.0.1 -P"$PORT" -u"$ADMIN_USER" -p"$ADMIN_PASSWORD" \
        --batch --skip-column-names -e 'SELECT VERSION()' "$TEST_DB" 2>&1) ||
        die "$NAME: TCP login as $ADMIN_USER on 127.0.0.1:$PORT failed: $out"
    out=$(grep -v 'password on the command line' <<<"$out" || true)
    log "$NAME: TCP login as $ADMIN_USER ok, version $out"
}

# The port answers with a server greeting -- without authenticating, so that no
# account's caching_sha2_password cache entry is filled.
tcp_greeting() {
    local n
    n=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -c 5 <&3" 2>/dev/null | wc -c) || true
    [[ $n == 5 ]] || die "$NAME: 127.0.0.1:$PORT does not answer with a server greeting"
    log "$NAME: 127.0.0.1:$PORT answers (no login done)"
}

stop_server() {
    local pid deadline
    if ! pid=$(server_pid); then
        log "$NAME: not running"
        rm -f "$ROOT$PIDFILE"
        return 0
    fi
    log "$NAME: stopping pid $pid (SIGTERM)"
    kill -TERM "$pid"
    deadline=$((SECONDS + STOP_TIMEOUT))
    while [[ -d /proc/$pid ]]; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            die "$NAME: pid $pid did not stop within ${STOP_TIMEOUT}s; sent SIGKILL"
        fi
        sleep 0.2
    done
    log "$NAME: stopped"
}

lock() {
    mkdir -p "$SERVERS_DIR"
    exec 9>"$SERVERS_DIR/.lock"
    flock 9
}

[[ $(id -u) == 0 ]] || [[ ${1:-} == env ]] || die "must run as root (debootstrap, chroot, mount)"

# ---------------------------------------------------------------- commands
cmd_up() {
    lock
    local name
    # Build both roots in parallel: the downloads dominate and overlap well.
    local -a pids=() names=()
    for name in "${SERVERS[@]}"; do
        select_server "$name"
        if [[ ! -f $ROOT/.migrator-root-complete ]]; then
            ensure_debootstrap
            (build_root) &
            pids+=($!) names+=("$name")
        fi
    done
    local i failed=0
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { failed=1; printf '[real-servers] %s: build failed\n' "${names[$i]}" >&2; }
    done
    ((failed == 0)) || die "building the root filesystems failed"
    for name in "${SERVERS[@]}"; do
        select_server "$name"
        STARTED_PID=
        mount_pseudo
        init_datadir
        start_server
        wait_ready
        provision
        tcp_login
    done
    log "up: done"
}

cmd_env() {
    printf 'TEST_DATABASE_URL_MYSQL97=mysql://%s:%s@127.0.0.1:%s/%s\n' \
        "$ADMIN_USER" "$ADMIN_PASSWORD" "$MYSQL97_PORT" "$TEST_DB"
    printf 'TEST_DATABASE_URL_MARIADB118=mysql://%s:%s@127.0.0.1:%s/%s\n' \
        "$ADMIN_USER" "$ADMIN_PASSWORD" "$MARIADB118_PORT" "$TEST_DB"
}

cmd_ca() {
    # The CA that signed the server's own certificate, where the server wrote one
    # (MySQL's auto-generated ca.pem); empty for MariaDB 11.8, which keeps its own
    # self-signed certificate in memory.
    [[ $# == 1 ]] || die "usage: $0 ca mysql97|mariadb118"
    select_server "$1"
    if [[ -f $ROOT$SRV/data/ca.pem ]]; then
        printf '%s\n' "$ROOT$SRV/data/ca.pem"
    fi
}

cmd_down() {
    lock
    local name
    for name in "${SERVERS[@]}"; do
        select_server "$name"
        [[ -d $ROOT ]] || continue
        stop_server
        mountpoint -q "$ROOT/dev/shm" && umount "$ROOT/dev/shm"
        mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
    done
    log "down: done"
}

cmd_restart() {
    [[ $# == 1 ]] || die "usage: $0 restart mysql97|mariadb118"
    select_server "$1"
    [[ -f $ROOT$SRV/initialised ]] || die "$NAME: not set up yet; run '$0 up' first"
    lock
    STARTED_PID=
    stop_server
    mount_pseudo
    start_server
    wait_ready
    tcp_greeting
    log "restart $NAME: done"
}

cmd_status() {
    local name pid version rc=0
    for name in "${SERVERS[@]}"; do
        select_server "$name"
        if pid=$(server_pid); then
            version=$(root_sql -e 'SELECT VERSION()' 2>/dev/null || echo '?')
            printf '%s: running pid %s 127.0.0.1:%s version %s\n' "$NAME" "$pid" "$PORT" "$version"
        else
            printf '%s: not running (port %s)\n' "$NAME" "$PORT"
            rc=1
        fi
    done
    return $rc
}

case ${1:-} in
up) cmd_up ;;
env) cmd_env ;;
ca) shift; cmd_ca "$@" ;;
down) cmd_down ;;
restart) shift; cmd_restart "$@" ;;
status) cmd_status ;;
*) die "usage: $0 up|env|status|down|restart mysql97|mariadb118|ca mysql97|mariadb118" ;;
esac
