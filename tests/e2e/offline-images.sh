#!/usr/bin/env bash
# tests/e2e/offline-images.sh - make a Docker engine available on this machine and
# build three stand-in base images, for machines that have NO container registry
# (nothing can be pulled) and possibly no Docker engine.
#
# What it does (each step is skipped when already done, so re-runs take seconds):
#   1. engine:  apt-get install docker.io docker-compose debootstrap (only what is
#               missing, --no-install-recommends), then start dockerd in the
#               background (log: $DOCKERD_LOG) and wait until `docker info` works.
#               A Docker engine that is already running is used as it is.
#   2. python:  $STANDIN_PYTHON_IMAGE (default migrator-standin/python:bookworm):
#               debootstrap minbase + python3 (bookworm: 3.11), venv, pip,
#               python-is-python3, ca-certificates; `python`, `python3`, `pip`
#               also in /usr/local/bin like the official python image; global
#               `pip install` allowed (EXTERNALLY-MANAGED removed); the CA bundle
#               pip uses on this host is installed so pip inside `docker build`
#               reaches PyPI (and PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE
#               point at it, for pip < 24.2 / requests, which bring their own
#               certifi bundle). CMD ["python3"].
#   3. mysql:   $STANDIN_MYSQL_IMAGE (default migrator-standin/mysql:bookworm):
#               debootstrap minbase + mariadb-server/mariadb-client (MariaDB 10.11)
#               with tests/e2e/standin-mysql/docker-entrypoint.sh, which honours
#               MYSQL_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD /
#               MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ROOT_HOST, MYSQL_DATABASE,
#               MYSQL_USER, MYSQL_PASSWORD (and *_FILE) and
#               /docker-entrypoint-initdb.d like the official mysql image.
#               Listens on 0.0.0.0:3306, VOLUME /var/lib/mysql, CMD ["mysqld"].
#   4. mysql97: $STANDIN_MYSQL97_IMAGE (default migrator-standin/mysql:9.7): real
#               Oracle MySQL 9.7 from Debian sid (debootstrap minbase of
#               $STANDIN_MYSQL97_SUITE + mysql-server-core, mysql-client; it does
#               not install on bookworm itself) with
#               tests/e2e/standin-mysql97/docker-entrypoint.sh, which honours the
#               same variables as the official mysql image (and its initdb.d):
#               mysqld --initialize-insecure, a socket-only temporary server for
#               the users (caching_sha2_password, MySQL 9's default), then mysqld
#               as PID 1 as user mysql (uid 999 as in the official image) on
#               0.0.0.0:3306, secure-file-priv /var/lib/mysql-files, no X
#               Protocol, TLS with the certificates mysqld generates.
#               VOLUME /var/lib/mysql, CMD ["mysqld"].
#
# Usage (as root):
#   tests/e2e/offline-images.sh [--force] [--alias-official]
#                               [--only python|mysql|mysql97[,...]] [--selftest]
#   tests/e2e/offline-images.sh --print-docker
#
#   --force           rebuild the stand-in images even if they exist
#   --only WHAT       build only these stand-ins: python, mysql (MariaDB 10.11),
#                     mysql97 (MySQL 9.7); comma-separated or repeated
#   --alias-official  also tag the stand-ins as python:3.12-slim-bookworm,
#                     mysql:8.4 (the MariaDB one) and mysql:9.7, but only where
#                     no image of that name exists or
#                     where that name is already one of our stand-ins (a real
#                     image is never shadowed). Off by default: prefer passing
#                     the stand-in names explicitly (see below).
#   --selftest        after setup, prove the images work: python runs, pip in a
#                     venv downloads from PyPI inside a container, a BuildKit build
#                     FROM the python stand-in installs a package, the mysql
#                     stand-in becomes healthy and accepts the app user's login
#                     from another container on a user-defined network (both
#                     mysql stand-ins; for MySQL 9.7 also: the user's plugin is
#                     caching_sha2_password, and it logs in again after a restart).
#   --print-docker    print ONLY the path of the docker CLI to use and exit
#                     (exit 1 if none is installed yet). No other side effects.
#
# Output: stdout stays empty except for --print-docker; progress, timings and a
# summary go to stderr. Exit status is non-zero on any failure.
#
# Which docker CLI: the `docker` first on PATH may be a newer client without the
# buildx plugin, with which BuildKit builds fail. The CLI of Debian's docker.io
# package (normally /usr/bin/docker) builds with DOCKER_BUILDKIT=1. Never use a
# `# syntax=` line in Dockerfiles: it makes BuildKit pull a frontend image.
#
# How a Makefile / CI uses it:
#   bash tests/e2e/offline-images.sh
#   DOCKER="$(bash tests/e2e/offline-images.sh --print-docker)"
#   DOCKER_BUILDKIT=1 "$DOCKER" build \
#       --build-arg PYTHON_IMAGE=migrator-standin/python:bookworm -t migrator:e2e .
#   MYSQL_IMAGE=migrator-standin/mysql:bookworm docker-compose ...   # compose 1.29
# Only the legacy docker-compose 1.29 exists here (`docker compose` does not).
# It talks to the engine API itself; if it has to build, do NOT set
# COMPOSE_DOCKER_CLI_BUILD=1 (it would run the `docker` first on PATH, without
# buildx) - or build the image with "$DOCKER" first and refer to it by name.
#
# The mysql stand-in is MariaDB 10.11, not MySQL 8.4: MySQL-8-only SQL (e.g.
# COLLATE utf8mb4_0900_ai_ci, caching_sha2_password) does not work in it. The
# mysql97 stand-in is real MySQL (9.7, not 8.4) for that: its users authenticate
# with caching_sha2_password, so a client's first login after a server start
# needs TLS (the server has it on, self-signed) or an RSA key exchange
# (PyMySQL: the `cryptography` package).
#
# Healthcheck for the database service that works with the official mysql:8.4
# image AND with the stand-in (true only once the app user can log in over TCP;
# `mysqladmin ping` is not enough, it succeeds on "access denied"):
#   mysql -h127.0.0.1 -P3306 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -e 'SELECT 1' "$MYSQL_DATABASE"
# (in a compose file write $$MYSQL_USER etc. inside a CMD-SHELL test).
#
# Environment knobs (all optional):
#   STANDIN_PYTHON_IMAGE, STANDIN_MYSQL_IMAGE, STANDIN_MYSQL97_IMAGE
#                      image names (see above)
#   STANDIN_SUITE      Debian suite of the python and mysql stand-ins (default bookworm)
#   STANDIN_MYSQL97_SUITE  Debian suite with MySQL 9.7 (default sid)
#   STANDIN_MYSQL97_ROOT   optional: an existing root tree made by
#                      `debootstrap --variant=minbase --include=mysql-server-core,mysql-client
#                      sid DIR MIRROR` to copy (cp -a -x; only read, never changed;
#                      its /srv is left out) instead of running debootstrap
#   STANDIN_MIRROR     Debian mirror URI (default: the one apt on this host uses
#                      for that suite, from `apt-get indextargets`, else its main
#                      archive, which also serves sid)
#   STANDIN_CA_BUNDLE  CA bundle to install in the python image (default: $PIP_CERT,
#                      else pip's configured `cert`, else /etc/ssl/certs/ca-certificates.crt)
#   STANDIN_WORKDIR    where rootfs trees are built (default /var/tmp)
#   STANDIN_LOG_DIR    debootstrap logs (default /var/log/offline-images)
#   DOCKERD_LOG        dockerd's log file (default /var/log/dockerd.log)
#   DOCKERD_WAIT       seconds to wait for dockerd to answer (default 60)
#   DOCKERD_OPTS       extra options for dockerd (word-split)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY_IMAGE="${STANDIN_PYTHON_IMAGE:-migrator-standin/python:bookworm}"
MYSQL_IMAGE="${STANDIN_MYSQL_IMAGE:-migrator-standin/mysql:bookworm}"
MYSQL97_IMAGE="${STANDIN_MYSQL97_IMAGE:-migrator-standin/mysql:9.7}"
PY_ALIAS="python:3.12-slim-bookworm"
MYSQL_ALIAS="mysql:8.4"
MYSQL97_ALIAS="mysql:9.7"
SUITE="${STANDIN_SUITE:-bookworm}"
MYSQL97_SUITE="${STANDIN_MYSQL97_SUITE:-sid}"
MYSQL97_ROOT="${STANDIN_MYSQL97_ROOT:-}"
WORKDIR_BASE="${STANDIN_WORKDIR:-/var/tmp}"
LOG_DIR="${STANDIN_LOG_DIR:-/var/log/offline-images}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
LABEL_KEY="io.migrator.standin"
STD_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

FORCE=0 ALIAS=0 SELFTEST=0 PRINT_DOCKER=0
BUILD_PY=1 BUILD_MYSQL=1 BUILD_MYSQL97=1 ONLY_SEEN=0
DOCKER=""
ROOTFS_DIRS=()
TIMINGS=()
CLEANUP_CMDS=()

log()  { printf '[offline-images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }

now() { printf '%s' "${EPOCHREALTIME:-$(date +%s.%N)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# run_phase NAME FUNC [ARGS...]: run FUNC (under set -e: not in an `||` context,
# which would disable errexit inside it), record its wall time
CURRENT_PHASE=""
run_phase() {
	local name="$1" t0 dt; shift
	t0="$(now)"
	CURRENT_PHASE="$name"
	log "== phase: $name"
	"$@"
	dt="$(elapsed "$t0")"
	CURRENT_PHASE=""
	TIMINGS+=("$(printf '%-28s %7ss' "$name" "$dt")")
	log "== phase: $name done in ${dt}s"
}

while [ $# -gt 0 ]; do
	case "$1" in
		--force) FORCE=1 ;;
		--alias-official) ALIAS=1 ;;
		--selftest) SELFTEST=1 ;;
		--print-docker) PRINT_DOCKER=1 ;;
		--only)
			[ $# -ge 2 ] || die "--only needs an argument (python|mysql|mysql97)"
			if [ "$ONLY_SEEN" = 0 ]; then
				BUILD_PY=0 BUILD_MYSQL=0 BUILD_MYSQL97=0 ONLY_SEEN=1
			fi
			IFS=, read -r -a only_list <<<"$2"
			[ ${#only_list[@]} -gt 0 ] || die "--only needs an argument (python|mysql|mysql97)"
			for only in "${only_list[@]}"; do
				case "$only" in
					python) BUILD_PY=1 ;;
					mysql) BUILD_MYSQL=1 ;;
					mysql97) BUILD_MYSQL97=1 ;;
					*) die "--only: unknown image '$only' (python|mysql|mysql97)" ;;
				esac
			done
			shift ;;
		-h|--help) usage; exit 0 ;;
		*) usage; die "unknown argument: $1" ;;
	esac
	shift
done

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The docker CLI to use: the docker.io package's (it builds with BuildKit), else a
# `docker` on PATH that has the buildx plugin. Prints nothing if there is none.
find_docker_cli() {
	local cli=""
	if pkg_installed docker.io; then
		cli="$(dpkg -L docker.io | grep -m1 '/bin/docker$' || true)"
		[ -n "$cli" ] && [ -x "$cli" ] || cli=""
	fi
	if [ -z "$cli" ] && command -v docker >/dev/null 2>&1 \
		&& docker buildx version >/dev/null 2>&1; then
		cli="$(command -v docker)"
	fi
	printf '%s' "$cli"
}

if [ "$PRINT_DOCKER" = 1 ]; then
	cli="$(find_docker_cli)"
	[ -n "$cli" ] || { log "no suitable docker CLI installed yet; run $0 first"; exit 1; }
	printf '%s\n' "$cli"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts dockerd, runs debootstrap)"

cleanup() {
	local rc=$? d m i
	if [ "$rc" -ne 0 ] && [ -n "$CURRENT_PHASE" ]; then
		log "FAILED in phase '$CURRENT_PHASE' (exit $rc)"
	fi
	for ((i = ${#CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUP_CMDS[$i]}" >/dev/null 2>&1 || true
	done
	for d in "${ROOTFS_DIRS[@]}"; do
		[ -d "$d" ] || continue
		# debootstrap mounts proc/sys inside the target; never rm -rf through a mount
		for m in $(awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf --one-file-system "$d" || log "warning: could not remove $d"
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one run at a time (e.g. make -j)
mkdir -p /var/lock
exec 9>/var/lock/migrator-offline-images.lock
if ! flock -n 9; then
	log "another run holds /var/lock/migrator-offline-images.lock; waiting"
	flock 9
fi

T_START="$(now)"

# ---------------------------------------------------------------- engine
ensure_packages() {
	local want=(debootstrap) missing=() p
	DOCKER="$(find_docker_cli)"
	if [ -z "$DOCKER" ] || ! "$DOCKER" info >/dev/null 2>&1; then
		# no usable engine/CLI pair yet: use Debian's docker.io (unless a non-Debian
		# engine is installed, whose packages would conflict with docker.io)
		if ! pkg_installed docker-ce; then
			want+=(docker.io)
		fi
	fi
	if ! command -v docker-compose >/dev/null 2>&1; then
		want+=(docker-compose)
	fi
	for p in "${want[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		log "packages present: ${want[*]}"
		return 0
	fi
	log "installing: ${missing[*]}"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

ensure_dockerd() {
	DOCKER="$(find_docker_cli)"
	[ -n "$DOCKER" ] || die "no docker CLI with BuildKit support found (docker.io not installed?)"
	if "$DOCKER" info >/dev/null 2>&1; then
		log "Docker engine already running ($("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null))"
		return 0
	fi
	local pid="" dockerd=""
	if [ -s /var/run/docker.pid ]; then
		pid="$(cat /var/run/docker.pid)"
		# stale pid file (e.g. a machine handed over without its processes)?
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || pid=""
	fi
	if [ -n "$pid" ]; then
		log "dockerd (pid $pid) is running but not answering yet; waiting"
	else
		if pkg_installed docker.io; then
			dockerd="$(dpkg -L docker.io | grep -m1 '/bin/dockerd$' || true)"
		fi
		[ -n "$dockerd" ] || dockerd="$(command -v dockerd || true)"
		[ -n "$dockerd" ] || die "dockerd not found"
		mkdir -p "$(dirname "$DOCKERD_LOG")"
		log "starting $dockerd in the background (log: $DOCKERD_LOG)"
		# setsid + no inherited fds: it outlives this script and its caller's session
		# shellcheck disable=SC2086
		setsid -f "$dockerd" ${DOCKERD_OPTS:-} </dev/null >>"$DOCKERD_LOG" 2>&1 9>&-
	fi
	local i
	for ((i = 0; i < DOCKERD_WAIT * 2; i++)); do
		if "$DOCKER" info >/dev/null 2>&1; then
			log "Docker engine up after ~$((i / 2))s ($("$DOCKER" version -f '{{.Server.Version}}'))"
			return 0
		fi
		sleep 0.5
	done
	log "last lines of $DOCKERD_LOG:"
	tail -n 30 "$DOCKERD_LOG" >&2 || true
	die "dockerd did not answer within ${DOCKERD_WAIT}s"
}

# ---------------------------------------------------------------- rootfs helpers
# detect_mirror [SUITE]
detect_mirror() {
	local m="${STANDIN_MIRROR:-}" suite="${1:-$SUITE}"
	if [ -z "$m" ]; then
		m="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
			| awk -v s="$suite" '$2 == s { print $1; exit }')"
	fi
	if [ -z "$m" ]; then
		# host on another release: its main archive serves $suite too
		m="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
			| awk '$2 !~ /-(security|updates|backports|proposed-updates)$/ { print $1; exit }')"
	fi
	[ -n "$m" ] || die "cannot tell which Debian mirror apt uses; set STANDIN_MIRROR"
	printf '%s' "$m"
}

detect_ca_bundle() {
	local ca="${STANDIN_CA_BUNDLE:-${PIP_CERT:-}}"
	if [ -z "$ca" ]; then
		ca="$(python3 -m pip config get global.cert 2>/dev/null || true)"
	fi
	[ -n "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
	[ -r "$ca" ] || die "CA bundle $ca not readable"
	printf '%s' "$ca"
}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# debootstrap_rootfs NAME INCLUDES [SUITE] -> sets ROOTFS and ROOTFS_SUITE
debootstrap_rootfs() {
	local name="$1" include="$2" suite="${3:-$SUITE}" mirror logf
	mirror="$(detect_mirror "$suite")"
	mkdir -p "$WORKDIR_BASE" "$LOG_DIR"
	ROOTFS="$(mktemp -d "$WORKDIR_BASE/standin-$name.XXXXXX")"
	ROOTFS_DIRS+=("$ROOTFS")
	ROOTFS_SUITE="$suite"
	logf="$LOG_DIR/debootstrap-$name.log"
	log "debootstrap $suite ($mirror) +$include -> $ROOTFS (log: $logf)"
	if ! debootstrap --variant=minbase --include="$include" "$suite" "$ROOTFS" "$mirror" >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		[ -f "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2
		die "debootstrap failed for $name"
	fi
}

# shrink the tree and make it behave like a docker base image
slim_rootfs() {
	local d="$1"
	# keep docs out of packages installed later (as Debian's docker images do)
	mkdir -p "$d/etc/dpkg/dpkg.cfg.d"
	cat >"$d/etc/dpkg/dpkg.cfg.d/90-standin-nodoc" <<-'EOF'
		path-exclude=/usr/share/doc/*
		path-include=/usr/share/doc/*/copyright
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/info/*
		path-exclude=/usr/share/lintian/*
	EOF
	cat >"$d/etc/apt/apt.conf.d/90-standin-clean" <<-'EOF'
		APT::Install-Recommends "false";
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
	EOF
	find "$d/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	find "$d/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf "$d"/usr/share/man/* "$d"/usr/share/info/* "$d"/usr/share/lintian \
		"$d"/usr/share/locale/* "$d"/var/cache/apt/archives/*.deb \
		"$d"/var/cache/apt/*.bin "$d"/var/lib/apt/lists/* "$d"/var/cache/debconf/*-old \
		"$d"/var/lib/dpkg/*-old "$d"/debootstrap "$d"/tmp/* "$d"/var/tmp/*
	find "$d/var/log" -type f -delete 2>/dev/null || true
	# docker bind-mounts these at run time; do not ship the host's
	: >"$d/etc/resolv.conf"
	printf 'localhost\n' >"$d/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$d/etc/hosts"
}

# import_rootfs DIR IMAGE KIND CHANGE...
import_rootfs() {
	local d="$1" image="$2" kind="$3"; shift 3
	local changes=(--change "ENV PATH=$STD_PATH" --change "ENV LANG=C.UTF-8"
		--change "LABEL $LABEL_KEY=$kind" --change "LABEL $LABEL_KEY.suite=${ROOTFS_SUITE:-$SUITE}")
	local c old=""
	for c in "$@"; do changes+=(--change "$c"); done
	old="$("$DOCKER" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
	log "importing $d as $image ($(du -sh --apparent-size "$d" | cut -f1) uncompressed)"
	tar --numeric-owner --xattrs -C "$d" -cf - . | "$DOCKER" import "${changes[@]}" \
		-m "stand-in $kind image built by tests/e2e/offline-images.sh" - "$image" >/dev/null
	if [ -n "$old" ] && [ "$old" != "$("$DOCKER" image inspect -f '{{.Id}}' "$image")" ]; then
		"$DOCKER" image rm "$old" >/dev/null 2>&1 || log "note: previous $image ($old) still in use, kept"
	fi
}

# ---------------------------------------------------------------- images
build_python() {
	if [ "$FORCE" = 0 ] && image_exists "$PY_IMAGE"; then
		log "$PY_IMAGE exists; skipping (use --force to rebuild)"
		return 0
	fi
	local ca d
	ca="$(detect_ca_bundle)"
	debootstrap_rootfs python "python3,python3-venv,python3-pip,python-is-python3,ca-certificates"
	d="$ROOTFS"
	log "installing CA bundle $ca (and host's /usr/local/share/ca-certificates) into the image"
	mkdir -p "$d/usr/local/share/ca-certificates"
	if [ -d /usr/local/share/ca-certificates ]; then
		# so that an update-ca-certificates inside a build keeps them
		cp -a /usr/local/share/ca-certificates/. "$d/usr/local/share/ca-certificates/"
	fi
	cp "$ca" "$d/etc/ssl/certs/ca-certificates.crt"
	chmod 644 "$d/etc/ssl/certs/ca-certificates.crt"
	# like the official image: python/pip in /usr/local/bin, global pip install allowed
	local b
	for b in python python3 pip pip3; do
		ln -sfn "/usr/bin/$b" "$d/usr/local/bin/$b"
	done
	rm -f "$d"/usr/lib/python3*/EXTERNALLY-MANAGED
	[ -x "$d/usr/bin/python" ] || die "python-is-python3 did not provide /usr/bin/python"
	slim_rootfs "$d"
	# pip < 24.2 (e.g. pinned in a venv) and requests use their own certifi bundle,
	# which lacks this host's CA: point them at the system bundle
	local bundle=/etc/ssl/certs/ca-certificates.crt
	import_rootfs "$d" "$PY_IMAGE" python 'CMD ["python3"]' \
		"ENV PIP_CERT=$bundle" "ENV REQUESTS_CA_BUNDLE=$bundle" "ENV SSL_CERT_FILE=$bundle"
}

build_mysql() {
	if [ "$FORCE" = 0 ] && image_exists "$MYSQL_IMAGE"; then
		log "$MYSQL_IMAGE exists; skipping (use --force to rebuild)"
		return 0
	fi
	local src="$SCRIPT_DIR/standin-mysql" d
	[ -r "$src/docker-entrypoint.sh" ] && [ -r "$src/99-standin.cnf" ] || die "missing files in $src"
	debootstrap_rootfs mysql "mariadb-server,mariadb-client"
	d="$ROOTFS"
	install -m 0755 "$src/docker-entrypoint.sh" "$d/usr/local/bin/docker-entrypoint.sh"
	ln -sfn usr/local/bin/docker-entrypoint.sh "$d/entrypoint.sh"
	install -m 0644 "$src/99-standin.cnf" "$d/etc/mysql/mariadb.conf.d/99-standin.cnf"
	mkdir -p "$d/docker-entrypoint-initdb.d"
	# the package's postinst created a datadir; start empty so the entrypoint
	# initialises it from MYSQL_* like the official image
	rm -rf "${d:?}/var/lib/mysql" && mkdir -p "$d/var/lib/mysql" "$d/run/mysqld"
	local uid gid
	uid="$(awk -F: '$1 == "mysql" { print $3 }' "$d/etc/passwd")"
	gid="$(awk -F: '$1 == "mysql" { print $4 }' "$d/etc/passwd")"
	[ -n "$uid" ] || die "no mysql user in the mysql rootfs"
	chown "$uid:$gid" "$d/var/lib/mysql" "$d/run/mysqld"
	[ -e "$d/usr/bin/mysql" ] || ln -s mariadb "$d/usr/bin/mysql"
	[ -e "$d/usr/sbin/mysqld" ] || ln -s mariadbd "$d/usr/sbin/mysqld"
	[ -x "$d/usr/bin/setpriv" ] || die "setpriv missing in the mysql rootfs"
	slim_rootfs "$d"
	import_rootfs "$d" "$MYSQL_IMAGE" mysql \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mysqld"]' \
		'EXPOSE 3306' 'VOLUME /var/lib/mysql'
}

# copy_rootfs NAME SOURCE: like debootstrap_rootfs, from an existing tree (-> ROOTFS)
copy_rootfs() {
	local name="$1" src="$2"
	[ -d "$src/var/lib/dpkg" ] || die "$src is not a root file system"
	mkdir -p "$WORKDIR_BASE"
	ROOTFS="$(mktemp -d "$WORKDIR_BASE/standin-$name.XXXXXX")"
	ROOTFS_DIRS+=("$ROOTFS")
	log "copying $src -> $ROOTFS (instead of debootstrap)"
	# -x: not into what is mounted inside it (proc, dev/shm of a chroot in use)
	cp -a -x "$src/." "$ROOTFS/"
	# whatever a server run from that tree left there (data, sockets) stays out
	rm -rf "${ROOTFS:?}"/srv/* "${ROOTFS:?}"/run/mysqld "${ROOTFS:?}"/var/lib/mysql \
		"${ROOTFS:?}"/var/lib/mysql-files
}

# the packages of a root tree that must be installed
require_packages() {
	local d="$1" p; shift
	for p in "$@"; do
		dpkg-query --admindir="$d/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null \
			| grep -q 'install ok installed' || die "package $p is not installed in $d"
	done
}

build_mysql97() {
	if [ "$FORCE" = 0 ] && image_exists "$MYSQL97_IMAGE"; then
		log "$MYSQL97_IMAGE exists; skipping (use --force to rebuild)"
		return 0
	fi
	local src="$SCRIPT_DIR/standin-mysql97" d version
	[ -r "$src/docker-entrypoint.sh" ] && [ -r "$src/99-standin.cnf" ] || die "missing files in $src"
	if [ -n "$MYSQL97_ROOT" ]; then
		copy_rootfs mysql97 "$MYSQL97_ROOT"
		ROOTFS_SUITE="$MYSQL97_SUITE"
	else
		debootstrap_rootfs mysql97 "mysql-server-core,mysql-client" "$MYSQL97_SUITE"
	fi
	d="$ROOTFS"
	require_packages "$d" mysql-server-core mysql-client util-linux
	version="$(dpkg-query --admindir="$d/var/lib/dpkg" -W -f='${Version}' mysql-server-core)"
	case "$version" in
		9.7.*) ;;
		*) die "$MYSQL97_SUITE has mysql-server-core $version, not 9.7 (set STANDIN_MYSQL97_SUITE)" ;;
	esac
	install -m 0755 "$src/docker-entrypoint.sh" "$d/usr/local/bin/docker-entrypoint.sh"
	ln -sfn usr/local/bin/docker-entrypoint.sh "$d/entrypoint.sh"
	mkdir -p "$d/etc/mysql/conf.d"
	install -m 0644 "$src/99-standin.cnf" "$d/etc/mysql/conf.d/99-standin.cnf"
	mkdir -p "$d/docker-entrypoint-initdb.d"
	# mysql-server-core (unlike mysql-server) creates no user: 999:999 as in the
	# official image, so a data volume of one works with the other
	if ! grep -q '^mysql:' "$d/etc/group"; then
		chroot "$d" groupadd --system --gid 999 mysql 2>/dev/null \
			|| chroot "$d" groupadd --system mysql
	fi
	if ! grep -q '^mysql:' "$d/etc/passwd"; then
		chroot "$d" useradd --system --gid mysql --uid 999 --home-dir /var/lib/mysql \
			--no-create-home --shell /usr/sbin/nologin mysql 2>/dev/null \
			|| chroot "$d" useradd --system --gid mysql --home-dir /var/lib/mysql \
				--no-create-home --shell /usr/sbin/nologin mysql
	fi
	mkdir -p "$d/var/lib/mysql" "$d/var/lib/mysql-files" "$d/run/mysqld"
	chroot "$d" chown mysql:mysql /var/lib/mysql /var/lib/mysql-files /run/mysqld
	chmod 0750 "$d/var/lib/mysql-files"
	[ -x "$d/usr/bin/setpriv" ] || die "setpriv missing in the mysql97 rootfs"
	# client-side auth plugins for cloud/Kerberos/WebAuthn/OpenID logins and the
	# telemetry client: unused here, ~35 MB
	rm -f "$d"/usr/lib/mysql/plugin/authentication_{oci,kerberos,webauthn,openid_connect}_client.so \
		"$d"/usr/lib/mysql/plugin/telemetry_client.so
	slim_rootfs "$d"
	import_rootfs "$d" "$MYSQL97_IMAGE" mysql97 \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mysqld"]' \
		'EXPOSE 3306' 'VOLUME /var/lib/mysql' \
		"ENV MYSQL_MAJOR=9.7" "ENV MYSQL_VERSION=$version" \
		"LABEL $LABEL_KEY.version=$version"
}

# tag_alias STANDIN ALIAS: only if ALIAS is absent or already one of ours
tag_alias() {
	local img="$1" alias="$2" label
	image_exists "$img" || return 0
	if image_exists "$alias"; then
		label="$("$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$alias" 2>/dev/null || true)"
		if [ -z "$label" ] || [ "$label" = "<no value>" ]; then
			log "not tagging $alias: a non-stand-in image of that name exists"
			return 0
		fi
	fi
	"$DOCKER" tag "$img" "$alias"
	log "tagged $img as $alias"
}

make_aliases() {
	[ "$BUILD_PY" = 1 ] && tag_alias "$PY_IMAGE" "$PY_ALIAS"
	[ "$BUILD_MYSQL" = 1 ] && tag_alias "$MYSQL_IMAGE" "$MYSQL_ALIAS"
	[ "$BUILD_MYSQL97" = 1 ] && tag_alias "$MYSQL97_IMAGE" "$MYSQL97_ALIAS"
	return 0
}

# ---------------------------------------------------------------- self-test
selftest_python() {
	local out ctx tag="migrator-standin/selftest-python:$$"
	out="$("$DOCKER" run --rm "$PY_IMAGE" python -c 'import sys, ssl, venv; print(sys.version.split()[0])')"
	log "python in $PY_IMAGE: $out"
	log "pip download from PyPI inside a container (venv)"
	"$DOCKER" run --rm "$PY_IMAGE" sh -ec \
		'python -m venv /tmp/v && /tmp/v/bin/pip download -q --no-deps -d /tmp/dl six && ls /tmp/dl' >&2
	ctx="$(mktemp -d)"
	CLEANUP_CMDS+=("rm -rf '$ctx'" "'$DOCKER' image rm -f '$tag'")
	printf 'FROM %s\nRUN python -m venv /v && /v/bin/pip install -q six && /v/bin/python -c "import six; print(six.__version__)"\n' \
		"$PY_IMAGE" >"$ctx/Dockerfile"
	log "BuildKit build FROM $PY_IMAGE with $DOCKER"
	DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain -t "$tag" "$ctx" >&2
	"$DOCKER" run --rm "$tag" /v/bin/python -c 'import six; print("six", six.__version__)' >&2
}

# selftest_mysql [IMAGE [KIND]]
selftest_mysql() {
	local image="${1:-$MYSQL_IMAGE}" kind="${2:-mysql}"
	local net="standin-selftest-$kind-$$" db="standin-selftest-db-$kind-$$" i status=""
	local hc='mysql -h127.0.0.1 -P3306 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -e "SELECT 1" "$MYSQL_DATABASE" >/dev/null 2>&1'
	CLEANUP_CMDS+=("'$DOCKER' network rm '$net'" "'$DOCKER' rm -f -v '$db'")
	"$DOCKER" network create "$net" >/dev/null
	"$DOCKER" run -d --name "$db" --network "$net" --network-alias db \
		-e MYSQL_ROOT_PASSWORD=rootpw -e MYSQL_DATABASE=appdb \
		-e MYSQL_USER=app -e "MYSQL_PASSWORD=app'pw" \
		--health-cmd "$hc" --health-interval 1s --health-timeout 5s --health-retries 120 \
		"$image" >/dev/null
	for ((i = 0; i < 240; i++)); do
		status="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$db" 2>/dev/null || echo gone)"
		[ "$status" = healthy ] && break
		if [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$db" 2>/dev/null)" != true ]; then
			status="not running"
			break
		fi
		sleep 0.5
	done
	if [ "$status" != healthy ]; then
		"$DOCKER" logs "$db" >&2 || true
		die "$kind stand-in did not become healthy (status: $status)"
	fi
	log "$kind stand-in healthy after ~$((i / 2))s; logging in from another container"
	"$DOCKER" run --rm --network "$net" "$image" \
		mysql -hdb -uapp "-papp'pw" -e 'SELECT CURRENT_USER() AS user, DATABASE() AS db, VERSION() AS version' appdb >&2
	if [ "$kind" = mysql97 ]; then
		local plugin
		plugin="$("$DOCKER" exec "$db" mysql -N -uroot -prootpw \
			-e "SELECT plugin FROM mysql.user WHERE user = 'app'" 2>/dev/null)"
		[ "$plugin" = caching_sha2_password ] || die "app's auth plugin is '$plugin', not caching_sha2_password"
		log "app authenticates with $plugin; restarting (empty auth cache) and logging in again"
		"$DOCKER" restart -t 20 "$db" >/dev/null
		for ((i = 0; i < 120; i++)); do
			"$DOCKER" run --rm --network "$net" "$image" \
				mysql -hdb -uapp "-papp'pw" -e 'SELECT 1' appdb >/dev/null 2>&1 && break
			sleep 0.5
		done
		[ "$i" -lt 120 ] || die "no login after a restart of the $kind stand-in"
	fi
	log "docker stop (SIGTERM) -> clean shutdown"
	"$DOCKER" stop -t 20 "$db" >/dev/null
	local logs
	logs="$("$DOCKER" logs "$db" 2>&1)"
	case "$logs" in
		*"Shutdown complete"*) ;;
		*) printf '%s\n' "$logs" | tail -n 20 >&2; die "no clean shutdown in the server log" ;;
	esac
	log "exit code after docker stop: $("$DOCKER" inspect -f '{{.State.ExitCode}}' "$db")"
}

selftest() {
	[ "$BUILD_PY" = 1 ] && run_phase "selftest python" selftest_python
	[ "$BUILD_MYSQL" = 1 ] && run_phase "selftest mysql" selftest_mysql "$MYSQL_IMAGE" mysql
	[ "$BUILD_MYSQL97" = 1 ] && run_phase "selftest mysql97" selftest_mysql "$MYSQL97_IMAGE" mysql97
	return 0
}

# ---------------------------------------------------------------- main
run_phase "packages" ensure_packages
run_phase "dockerd" ensure_dockerd
[ "$BUILD_PY" = 1 ] && run_phase "image python" build_python
[ "$BUILD_MYSQL" = 1 ] && run_phase "image mysql" build_mysql
[ "$BUILD_MYSQL97" = 1 ] && run_phase "image mysql97" build_mysql97
[ "$ALIAS" = 1 ] && run_phase "aliases" make_aliases
[ "$SELFTEST" = 1 ] && selftest

{
	echo "---------------------------------------------------------------- summary"
	echo "docker CLI (use with DOCKER_BUILDKIT=1): $DOCKER   [also: $0 --print-docker]"
	echo "engine: $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null)  log: $DOCKERD_LOG"
	if command -v docker-compose >/dev/null 2>&1; then
		echo "docker-compose: $(docker-compose version --short 2>/dev/null || echo '?') ($(command -v docker-compose))"
	fi
	if "$DOCKER" compose version >/dev/null 2>&1; then
		echo "docker compose (plugin): $("$DOCKER" compose version --short 2>/dev/null)"
	else
		echo "docker compose (plugin): not available; use docker-compose"
	fi
	for img in "$PY_IMAGE" "$MYSQL_IMAGE" "$MYSQL97_IMAGE" "$PY_ALIAS" "$MYSQL_ALIAS" "$MYSQL97_ALIAS"; do
		"$DOCKER" image ls --format "image: $img  {{.ID}}  {{.Size}}  (created {{.CreatedSince}})" "$img"
	done
	for t in "${TIMINGS[@]}"; do echo "time: $t"; done
	echo "time: total                        $(elapsed "$T_START")s"
} >&2
