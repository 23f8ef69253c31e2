#!/usr/bin/env bash
# Shared helpers for scripts/up and scripts/test: repo-root handling and finding/starting Postgres + Redis.
#
# Usage: `source scripts/lib.sh` (cds to the repo root), then `ensure_services`.
# It can also be run directly to call one helper, e.g. `scripts/lib.sh stop_private_services`.
#
# Environment knobs:
#   DATABASE_URL / REDIS_URL   use these services (must accept TCP; waited for up to DRAFTLINE_SERVICE_WAIT s).
#   DRAFTLINE_SERVICE_WAIT     seconds to wait for a service to accept connections (default 30).
#   DRAFTLINE_FORCE_PRIVATE=1  testing aid: ignore DATABASE_URL/REDIS_URL and the standard ports
#                              (5432/6379) and always use the private instances under .dev/.
#   CI=true                    never prompt (sudo -n, apt-get -y, noninteractive frontend).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_DIR="$REPO_ROOT/.dev"
DRAFTLINE_PRIVATE_PG_PORT=55432
DRAFTLINE_PRIVATE_REDIS_PORT=56379
DRAFTLINE_SERVICE_WAIT="${DRAFTLINE_SERVICE_WAIT:-30}"
export DEBIAN_FRONTEND=noninteractive
cd "$REPO_ROOT"

repo_root() { printf '%s\n' "$REPO_ROOT"; }

log() { printf '%s\n' "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

is_ci() { [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; }
force_private() { [[ "${DRAFTLINE_FORCE_PRIVATE:-}" == "1" ]]; }

# Make sure .gitignore ignores build output and the private .dev/ state (append missing lines only).
ensure_gitignore() {
	local f="$REPO_ROOT/.gitignore" line
	if [[ ! -f "$f" ]]; then
		printf '%s\n' '/target' '/.dev' 'node_modules/' >"$f"
		return
	fi
	# Make sure we append on a fresh line.
	if [[ -s "$f" && "$(tail -c1 "$f")" != "" ]]; then printf '\n' >>"$f"; fi
	for line in '/target' '/.dev' 'node_modules/'; do
		local base="${line#/}"
		base="${base%/}"
		# Treat equivalent spellings (target, target/, /target/, ...) as already present.
		if ! grep -qxE "/?${base//./\\.}/?" "$f"; then
			printf '%s\n' "$line" >>"$f"
		fi
	done
}

# --- URL helpers -------------------------------------------------------------

# Print "host|port" for a URL like scheme://user:pass@host:port/path?query (first host only).
url_host_port() {
	local url="$1" default_port="$2" rest auth host port=""
	rest="${url#*://}"
	auth="${rest%%[/?#]*}"
	auth="${auth##*@}"
	auth="${auth%%,*}"
	if [[ "$auth" == \[* ]]; then
		host="${auth%%]*}"
		host="${host#[}"
		port="${auth#*]}"
		port="${port#:}"
	else
		host="${auth%%:*}"
		[[ "$auth" == *:* ]] && port="${auth##*:}"
	fi
	printf '%s|%s\n' "$host" "${port:-$default_port}"
}

# Print a URL with any password replaced by ***.
mask_url() {
	local url="$1" scheme rest auth tail userinfo
	if [[ "$url" != *://* ]]; then
		printf '%s\n' "$url"
		return
	fi
	scheme="${url%%://*}"
	rest="${url#*://}"
	auth="${rest%%[/?#]*}"
	tail="${rest:${#auth}}"
	if [[ "$auth" == *@* ]]; then
		userinfo="${auth%@*}"
		[[ "$userinfo" == *:* ]] && userinfo="${userinfo%%:*}:***"
		auth="$userinfo@${auth##*@}"
	fi
	printf '%s://%s%s\n' "$scheme" "$auth" "$tail" | sed -E 's/([?&]password=)[^&]*/\1***/g'
}

# tcp_open HOST PORT: succeeds if HOST:PORT accepts a TCP connection within 2 seconds.
tcp_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# wait_tcp WHAT HOST PORT: wait up to DRAFTLINE_SERVICE_WAIT seconds for HOST:PORT.
wait_tcp() {
	local what="$1" host="$2" port="$3" deadline=$((SECONDS + DRAFTLINE_SERVICE_WAIT))
	until tcp_open "$host" "$port"; do
		if ((SECONDS >= deadline)); then
			die "$what at $host:$port does not accept TCP connections (waited ${DRAFTLINE_SERVICE_WAIT}s)"
		fi
		sleep 1
	done
}

# Check the service named by an explicit URL env var; die with a clear message if unreachable.
check_url_service() {
	local what="$1" url="$2" default_port="$3" host port
	IFS='|' read -r host port < <(url_host_port "$url" "$default_port")
	if [[ -z "$host" ]]; then
		log "note: $what URL $(mask_url "$url") has no TCP host (unix socket?); not checking it"
		return
	fi
	wait_tcp "$what ($(mask_url "$url"))" "$host" "$port"
}

# --- Package installation ----------------------------------------------------

as_root() {
	if [[ "$(id -u)" == 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if is_ci; then sudo -n "$@"; else sudo "$@"; fi
	else
		die "need root to run: $* (not root and no sudo); install it manually"
	fi
}

_APT_UPDATED=""
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
	log "Installing $* with apt-get ..."
	if [[ -z "$_APT_UPDATED" ]]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update
		_APT_UPDATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# --- Postgres ----------------------------------------------------------------

# Newest /usr/lib/postgresql/*/bin directory (empty if none).
pg_bin_dir() {
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
	[[ -n "$d" && -x "$d/initdb" ]] && printf '%s\n' "$d"
	return 0
}

# Run a command as the postgres OS user when we are root (initdb/postgres refuse to run as root).
as_pg_user() {
	if [[ "$(id -u)" != 0 ]]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
	fi
}

start_private_postgres() {
	local bin dir="$DEV_DIR/postgres" data sock logf port="$DRAFTLINE_PRIVATE_PG_PORT"
	data="$dir/data"
	sock="$dir/run"
	logf="$dir/postgres.log"

	bin="$(pg_bin_dir)"
	if [[ -z "$bin" ]]; then
		apt_install postgresql
		bin="$(pg_bin_dir)"
		[[ -n "$bin" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
	fi

	mkdir -p "$data" "$sock"
	touch "$logf"
	if [[ "$(id -u)" == 0 ]]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user to run initdb as"
		chown -R postgres:postgres "$dir"
		chmod 700 "$data"
		as_pg_user test -x "$dir" ||
			die "the postgres OS user cannot access $dir (a parent directory is not world-searchable); run as non-root or move the repo"
	fi
	# Unix socket paths are limited to ~107 bytes.
	if ((${#sock} + 20 > 107)); then
		die "socket dir path too long for a unix socket: $sock"
	fi

	if [[ ! -f "$data/PG_VERSION" ]]; then
		if [[ -n "$(ls -A "$data")" ]]; then
			die "$data exists but is not an initialised cluster; remove $dir and retry"
		fi
		log "Initialising private Postgres cluster in ${data#"$REPO_ROOT"/} ($("$bin/postgres" --version)) ..."
		(cd "$dir" && as_pg_user "$bin/initdb" -D "$data" --auth=trust -U postgres -E UTF8 --locale=C >>"$logf" 2>&1) ||
			die "initdb failed; see $logf"
	fi

	if (cd "$dir" && as_pg_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1); then
		log "Private Postgres already running (${data#"$REPO_ROOT"/})"
	else
		if tcp_open 127.0.0.1 "$port"; then
			die "port $port is in use by something other than the private Postgres in $data"
		fi
		log "Starting private Postgres on 127.0.0.1:$port (log: ${logf#"$REPO_ROOT"/}) ..."
		if ! (cd "$dir" && as_pg_user "$bin/pg_ctl" -D "$data" -l "$logf" -w -t "$DRAFTLINE_SERVICE_WAIT" \
			-o "-p $port -c listen_addresses=127.0.0.1 -k '$sock'" start >/dev/null); then
			tail -n 20 "$logf" >&2 || true
			die "could not start private Postgres; see $logf"
		fi
	fi

	local deadline=$((SECONDS + DRAFTLINE_SERVICE_WAIT))
	until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
		if ((SECONDS >= deadline)); then
			tail -n 20 "$logf" >&2 || true
			die "private Postgres on 127.0.0.1:$port is not accepting connections after ${DRAFTLINE_SERVICE_WAIT}s; see $logf"
		fi
		sleep 1
	done
}

ensure_postgres() {
	if ! force_private && [[ -n "${DATABASE_URL:-}" ]]; then
		check_url_service "Postgres" "$DATABASE_URL" 5432
		DRAFTLINE_PG_SOURCE="from DATABASE_URL"
	elif ! force_private && tcp_open 127.0.0.1 5432; then
		export DATABASE_URL="postgres://postgres@127.0.0.1:5432/draftline"
		DRAFTLINE_PG_SOURCE="local server on 127.0.0.1:5432"
	else
		start_private_postgres
		export DATABASE_URL="postgres://postgres@127.0.0.1:$DRAFTLINE_PRIVATE_PG_PORT/draftline"
		DRAFTLINE_PG_SOURCE="private instance in .dev/postgres"
	fi
	export DATABASE_URL
}

# --- Redis -------------------------------------------------------------------

redis_server_bin() {
	if command -v redis-server >/dev/null 2>&1; then
		command -v redis-server
	elif [[ -x /usr/sbin/redis-server ]]; then
		printf '%s\n' /usr/sbin/redis-server
	fi
	return 0
}

# redis_ping PORT: succeeds if a Redis on 127.0.0.1:PORT answers PONG.
redis_ping() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\r\n" >&3 && IFS= read -r line <&3 && [[ "$line" == "+PONG"* ]]' _ "$1" 2>/dev/null
}

start_private_redis() {
	local bin dir="$DEV_DIR/redis" port="$DRAFTLINE_PRIVATE_REDIS_PORT"
	mkdir -p "$dir"
	if redis_ping "$port"; then
		log "Private Redis already running on 127.0.0.1:$port"
		return
	fi
	if tcp_open 127.0.0.1 "$port"; then
		die "port $port is in use by something that does not answer Redis PING"
	fi
	bin="$(redis_server_bin)"
	if [[ -z "$bin" ]]; then
		apt_install redis-server
		bin="$(redis_server_bin)"
		[[ -n "$bin" ]] || die "redis-server installed but not found on PATH"
	fi
	log "Starting private Redis on 127.0.0.1:$port (log: .dev/redis/redis.log) ..."
	"$bin" --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" --save "" --appendonly no \
		--logfile "$dir/redis.log" --pidfile "$dir/redis.pid" ||
		die "could not start redis-server; see $dir/redis.log"
	local deadline=$((SECONDS + DRAFTLINE_SERVICE_WAIT))
	until redis_ping "$port"; do
		if ((SECONDS >= deadline)); then
			tail -n 20 "$dir/redis.log" >&2 || true
			die "private Redis on 127.0.0.1:$port is not answering after ${DRAFTLINE_SERVICE_WAIT}s; see $dir/redis.log"
		fi
		sleep 1
	done
}

ensure_redis() {
	if ! force_private && [[ -n "${REDIS_URL:-}" ]]; then
		check_url_service "Redis" "$REDIS_URL" 6379
		DRAFTLINE_REDIS_SOURCE="from REDIS_URL"
	elif ! force_private && tcp_open 127.0.0.1 6379; then
		export REDIS_URL="redis://127.0.0.1:6379"
		DRAFTLINE_REDIS_SOURCE="local server on 127.0.0.1:6379"
	else
		start_private_redis
		export REDIS_URL="redis://127.0.0.1:$DRAFTLINE_PRIVATE_REDIS_PORT"
		DRAFTLINE_REDIS_SOURCE="private instance in .dev/redis"
	fi
	export REDIS_URL
}

# The fault tests (server/tests/hub/faults.rs) stop and start servers of their own: a
# redis-server and a Postgres cluster (initdb, pg_ctl), never the shared ones.
ensure_fault_test_servers() {
	[[ -n "$(redis_server_bin)" ]] || apt_install redis-server
	[[ -n "$(pg_bin_dir)" ]] || apt_install postgresql
	return 0
}

# --- Build tools -----------------------------------------------------------------

# The Rust toolchain links with the C compiler; jemalloc (the node's allocator, built
# from source by tikv-jemalloc-sys) also needs make.
ensure_build_tools() {
	command -v cc >/dev/null 2>&1 || apt_install gcc
	command -v make >/dev/null 2>&1 || apt_install make
	return 0
}

# --- Node ----------------------------------------------------------------------

# Node and npm build and test the client SDK; Debian's packages when they are missing.
ensure_node() {
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		return
	fi
	apt_install nodejs npm
	command -v npm >/dev/null 2>&1 || die "nodejs and npm installed but npm is not on PATH"
}

# Debian's Chromium for the browser tests (playwright-core drives it; nothing downloads a
# browser of its own).
ensure_chromium() {
	if [[ -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
		return
	fi
	apt_install chromium
	[[ -x /usr/bin/chromium ]] || die "chromium installed but /usr/bin/chromium is missing"
}

# --- Entry points ------------------------------------------------------------

ensure_services() {
	ensure_gitignore
	ensure_postgres
	ensure_redis
	log "Postgres: $(mask_url "$DATABASE_URL") ($DRAFTLINE_PG_SOURCE)"
	log "Redis:    $(mask_url "$REDIS_URL") ($DRAFTLINE_REDIS_SOURCE)"
}

# Stop the private instances under .dev/ if they are running (leaves their data in place).
stop_private_services() {
	local bin
	bin="$(pg_bin_dir)"
	if [[ -n "$bin" && -f "$DEV_DIR/postgres/data/PG_VERSION" ]]; then
		(cd "$DEV_DIR/postgres" && as_pg_user "$bin/pg_ctl" -D "$DEV_DIR/postgres/data" status >/dev/null 2>&1 &&
			as_pg_user "$bin/pg_ctl" -D "$DEV_DIR/postgres/data" -m fast -w stop) || true
	fi
	if redis_ping "$DRAFTLINE_PRIVATE_REDIS_PORT"; then
		timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "SHUTDOWN NOSAVE\r\n" >&3 && cat <&3 >/dev/null' _ "$DRAFTLINE_PRIVATE_REDIS_PORT" || true
		log "private Redis stopped"
	fi
}

# Allow `scripts/lib.sh <function> [args...]` when executed rather than sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	[[ $# -gt 0 ]] || die "usage: source scripts/lib.sh, or: scripts/lib.sh <function> [args...]"
	"$@"
fi
