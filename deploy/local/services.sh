#!/usr/bin/env bash
# Starts the local backing services used by Tributary's integration tests
# (Redis, MariaDB, RabbitMQ) on a Debian 12 host without systemd or Docker, and
# installs the tools deploy/verify/verify.sh checks the deployment files with
# (promtool, docker-compose, node and npm) and the console test's Chromium when
# they are not on PATH.
#
# Must run as root. Idempotent: a server that already answers is left alone.
#
# Environment:
#   SKIP_MARIADB=1        do not touch MariaDB
#   SKIP_RABBITMQ=1       do not touch RabbitMQ
#   SKIP_TOOLS=1          do not install the verify tools and Chromium
#   SERVICES_WAIT_SECONDS how long to wait for each server to answer (default 60)
set -euo pipefail

WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

REDIS_LOG=/var/log/redis/ci.log
RABBITMQ_LOG_DIR=/var/log/rabbitmq
RABBITMQ_START_LOG="$RABBITMQ_LOG_DIR/ci-start.log"

APT_UPDATED=0
POLICY_RC_CREATED=0
SUMMARY=()

log() { echo "$*"; }
die() { echo "ERROR: $*" >&2; exit 1; }

cleanup() {
    if [ "$POLICY_RC_CREATED" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "must run as root"

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs a Debian package if it is missing. Package maintainer scripts are
# prevented from starting the daemon so that the start commands below are used.
ensure_package() {
    local pkg="$1"
    if pkg_installed "$pkg"; then
        return 0
    fi
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -q
        APT_UPDATED=1
    fi
    log "installing $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg"
}

# wait_until NAME LOGFILE CHECK_FUNCTION
wait_until() {
    local name="$1" logfile="$2" check="$3" deadline
    deadline=$((SECONDS + WAIT_SECONDS))
    until "$check"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "$name did not answer within ${WAIT_SECONDS}s; see $logfile"
        fi
        sleep 1
    done
}

# ---------------------------------------------------------------- Redis

redis_answers() {
    [ "$(timeout 5 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
}

start_redis() {
    if redis_answers; then
        log "redis: already running"
        SUMMARY+=("redis=already-running")
        return 0
    fi
    ensure_package redis-server
    local owner=root
    if id redis >/dev/null 2>&1; then owner=redis; fi
    [ -d /var/lib/redis ] || install -d -m 0750 -o "$owner" -g "$owner" /var/lib/redis
    [ -d /var/log/redis ] || install -d -m 2750 -o "$owner" -g adm /var/log/redis
    log "redis: starting"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile "$REDIS_LOG"
    wait_until redis "$REDIS_LOG" redis_answers
    log "redis: started"
    SUMMARY+=("redis=started")
}

# ---------------------------------------------------------------- MariaDB

mariadb_answers() {
    timeout 10 mariadb-admin --connect-timeout=5 ping >/dev/null 2>&1
}

mariadb_log_file() {
    local configured=""
    if command -v my_print_defaults >/dev/null 2>&1; then
        configured="$(my_print_defaults --mysqld 2>/dev/null \
            | sed -n 's/^--log[-_]error=//p' | tail -n 1)"
    fi
    echo "${configured:-}"
}

start_mariadb() {
    if [ "${SKIP_MARIADB:-0}" = 1 ]; then
        log "mariadb: skipped (SKIP_MARIADB=1)"
        SUMMARY+=("mariadb=skipped")
        return 0
    fi
    if mariadb_answers; then
        log "mariadb: already running"
        SUMMARY+=("mariadb=already-running")
        return 0
    fi
    ensure_package mariadb-server

    install -d -m 0755 -o mysql -g mysql /run/mysqld
    [ -d /var/log/mysql ] || install -d -m 2750 -o mysql -g adm /var/log/mysql
    if [ ! -d /var/lib/mysql/mysql ]; then
        log "mariadb: initialising data directory"
        mariadb-install-db --user=mysql >/dev/null
    fi

    # Without a configured log-error the server writes to stderr, so capture it.
    local logfile output_args=()
    logfile="$(mariadb_log_file)"
    if [ -z "$logfile" ]; then
        logfile=/var/log/mysql/error.log
        output_args=(--output "$logfile")
    fi

    log "mariadb: starting"
    start-stop-daemon --start --oknodo --background ${output_args[@]+"${output_args[@]}"} \
        --exec /usr/sbin/mariadbd
    wait_until mariadb "$logfile" mariadb_answers

    if ! mariadb -h127.0.0.1 -uroot -e 'select 1' >/dev/null 2>&1; then
        log "mariadb: enabling root TCP login with empty password"
        mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;"
    fi
    if ! mariadb -h127.0.0.1 -uroot -e 'select 1' >/dev/null 2>&1; then
        # With skip-name-resolve, 127.0.0.1 does not match root@localhost.
        log "mariadb: adding root@127.0.0.1"
        mariadb -uroot -e "CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
    fi
    mariadb -h127.0.0.1 -uroot -e 'select 1' >/dev/null 2>&1 \
        || die "mariadb: root cannot log in over TCP from 127.0.0.1; see $logfile"
    mariadb -uroot -e 'CREATE DATABASE IF NOT EXISTS tributary; CREATE DATABASE IF NOT EXISTS test;'
    log "mariadb: started"
    SUMMARY+=("mariadb=started")
}

# ---------------------------------------------------------------- RabbitMQ

rabbitmq_answers() {
    timeout 3 bash -c '</dev/tcp/127.0.0.1/5672' 2>/dev/null \
        && timeout 30 rabbitmqctl status >/dev/null 2>&1
}

rabbitmq_log_file() {
    local f
    f="$(find "$RABBITMQ_LOG_DIR" -maxdepth 1 -name 'rabbit@*.log' ! -name '*_upgrade.log' \
        -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)"
    echo "${f:-$RABBITMQ_START_LOG}"
}

start_rabbitmq() {
    if [ "${SKIP_RABBITMQ:-0}" = 1 ]; then
        log "rabbitmq: skipped (SKIP_RABBITMQ=1)"
        SUMMARY+=("rabbitmq=skipped")
        return 0
    fi
    if rabbitmq_answers; then
        log "rabbitmq: already running"
        SUMMARY+=("rabbitmq=already-running")
        return 0
    fi
    ensure_package rabbitmq-server
    [ -d "$RABBITMQ_LOG_DIR" ] || install -d -m 0750 -o rabbitmq -g rabbitmq "$RABBITMQ_LOG_DIR"

    log "rabbitmq: starting"
    # Output goes to a file so the detached node does not hold the caller's pipes.
    rabbitmq-server -detached >>"$RABBITMQ_START_LOG" 2>&1 </dev/null
    local deadline=$((SECONDS + WAIT_SECONDS))
    until rabbitmq_answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "rabbitmq did not answer within ${WAIT_SECONDS}s; see $(rabbitmq_log_file) and $RABBITMQ_START_LOG"
        fi
        sleep 1
    done
    log "rabbitmq: started"
    SUMMARY+=("rabbitmq=started")
}

# ---------------------------------------------------------------- Verify tools

# ensure_command COMMAND PACKAGE: installs PACKAGE when COMMAND is not on PATH.
ensure_command() {
    local cmd="$1" pkg="$2"
    if command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    ensure_package "$pkg"
    command -v "$cmd" >/dev/null 2>&1 || die "$pkg is installed but $cmd is not on PATH"
}

# The tools of deploy/verify/verify.sh and of the console's browser test. promtool
# comes with Debian's prometheus package: ensure_package's policy-rc.d keeps its
# daemon from being started. docker-compose (Compose v1) needs no Docker engine to
# check a file. Chromium runs headless under Playwright (ConsoleIT), with a font
# for the page's text in its screenshots.
ensure_tools() {
    if [ "${SKIP_TOOLS:-0}" = 1 ]; then
        log "tools: skipped (SKIP_TOOLS=1)"
        SUMMARY+=("tools=skipped")
        return 0
    fi
    ensure_command promtool prometheus
    ensure_command docker-compose docker-compose
    ensure_command node nodejs
    ensure_command npm npm
    ensure_command chromium chromium
    ensure_package fonts-liberation
    log "tools: promtool, docker-compose, node, npm and chromium on PATH"
    SUMMARY+=("tools=ok")
}

start_redis
start_mariadb
start_rabbitmq
ensure_tools

log "services: ${SUMMARY[*]}"
