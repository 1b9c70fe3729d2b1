#!/usr/bin/env bash
# tests/e2e/offline-images.sh - make a Docker engine available on this machine and
# build two stand-in base images, for machines that have NO container registry
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
#
# Usage (as root):
#   tests/e2e/offline-images.sh [--force] [--alias-official] [--only python|mysql]
#                               [--selftest]
#   tests/e2e/offline-images.sh --print-docker
#
#   --force           rebuild the stand-in images even if they exist
#   --only WHAT       build only the python or only the mysql stand-in
#   --alias-official  also tag the stand-ins as python:3.12-slim-bookworm and
#                     mysql:8.4, but only where no image of that name exists or
#                     where that name is already one of our stand-ins (a real
#                     image is never shadowed). Off by default: prefer passing
#                     the stand-in names explicitly (see below).
#   --selftest        after setup, prove the images work: python runs, pip in a
#                     venv downloads from PyPI inside a container, a BuildKit build
#                     FROM the python stand-in installs a package, the mysql
#                     stand-in becomes healthy and accepts the app user's login
#                     from another container on a user-defined network.
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
# COLLATE utf8mb4_0900_ai_ci, caching_sha2_password) does not work in it.
#
# Healthcheck for the database service that works with the official mysql:8.4
# image AND with the stand-in (true only once the app user can log in over TCP;
# `mysqladmin ping` is not enough, it succeeds on "access denied"):
#   mysql -h127.0.0.1 -P3306 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -e 'SELECT 1' "$MYSQL_DATABASE"
# (in a compose file write $$MYSQL_USER etc. inside a CMD-SHELL test).
#
# Environment knobs (all optional):
#   STANDIN_PYTHON_IMAGE, STANDIN_MYSQL_IMAGE  image names (see above)
#   STANDIN_SUITE      Debian suite of the stand-ins (default bookworm)
#   STANDIN_MIRROR     Debian mirror URI (default: the one apt on this host uses
#                      for that suite, from `apt-get indextargets`)
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
PY_ALIAS="python:3.12-slim-bookworm"
MYSQL_ALIAS="mysql:8.4"
SUITE="${STANDIN_SUITE:-bookworm}"
WORKDIR_BASE="${STANDIN_WORKDIR:-/var/tmp}"
LOG_DIR="${STANDIN_LOG_DIR:-/var/log/offline-images}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
LABEL_KEY="io.migrator.standin"
STD_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

FORCE=0 ALIAS=0 SELFTEST=0 PRINT_DOCKER=0
BUILD_PY=1 BUILD_MYSQL=1
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
			[ $# -ge 2 ] || die "--only needs an argument (python|mysql)"
			case "$2" in
				python) BUILD_MYSQL=0 ;;
				mysql) BUILD_PY=0 ;;
				*) die "--only: unknown image '$2' (python|mysql)" ;;
			esac
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
detect_mirror() {
	local m="${STANDIN_MIRROR:-}"
	if [ -z "$m" ]; then
		m="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
			| awk -v s="$SUITE" '$2 == s { print $1; exit }')"
	fi
	if [ -z "$m" ]; then
		# host on another release: its main archive serves $SUITE too
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

# debootstrap_rootfs NAME INCLUDES -> sets ROOTFS
debootstrap_rootfs() {
	local name="$1" include="$2" mirror logf
	mirror="$(detect_mirror)"
	mkdir -p "$WORKDIR_BASE" "$LOG_DIR"
	ROOTFS="$(mktemp -d "$WORKDIR_BASE/standin-$name.XXXXXX")"
	ROOTFS_DIRS+=("$ROOTFS")
	logf="$LOG_DIR/debootstrap-$name.log"
	log "debootstrap $SUITE ($mirror) +$include -> $ROOTFS (log: $logf)"
	if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$ROOTFS" "$mirror" >"$logf" 2>&1; then
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
		--change "LABEL $LABEL_KEY=$kind" --change "LABEL $LABEL_KEY.suite=$SUITE")
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

selftest_mysql() {
	local net="standin-selftest-$$" db="standin-selftest-db-$$" i status=""
	local hc='mysql -h127.0.0.1 -P3306 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -e "SELECT 1" "$MYSQL_DATABASE" >/dev/null 2>&1'
	CLEANUP_CMDS+=("'$DOCKER' network rm '$net'" "'$DOCKER' rm -f -v '$db'")
	"$DOCKER" network create "$net" >/dev/null
	"$DOCKER" run -d --name "$db" --network "$net" --network-alias db \
		-e MYSQL_ROOT_PASSWORD=rootpw -e MYSQL_DATABASE=appdb \
		-e MYSQL_USER=app -e "MYSQL_PASSWORD=app'pw" \
		--health-cmd "$hc" --health-interval 1s --health-timeout 5s --health-retries 120 \
		"$MYSQL_IMAGE" >/dev/null
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
		die "mysql stand-in did not become healthy (status: $status)"
	fi
	log "mysql stand-in healthy after ~$((i / 2))s; logging in from another container"
	"$DOCKER" run --rm --network "$net" "$MYSQL_IMAGE" \
		mysql -hdb -uapp "-papp'pw" -e 'SELECT CURRENT_USER() AS user, DATABASE() AS db, VERSION() AS version' appdb >&2
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
	[ "$BUILD_MYSQL" = 1 ] && run_phase "selftest mysql" selftest_mysql
	return 0
}

# ---------------------------------------------------------------- main
run_phase "packages" ensure_packages
run_phase "dockerd" ensure_dockerd
[ "$BUILD_PY" = 1 ] && run_phase "image python" build_python
[ "$BUILD_MYSQL" = 1 ] && run_phase "image mysql" build_mysql
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
	for img in "$PY_IMAGE" "$MYSQL_IMAGE" "$PY_ALIAS" "$MYSQL_ALIAS"; do
		"$DOCKER" image ls --format "image: $img  {{.ID}}  {{.Size}}  (created {{.CreatedSince}})" "$img"
	done
	for t in "${TIMINGS[@]}"; do echo "time: $t"; done
	echo "time: total                        $(elapsed "$T_START")s"
} >&2
