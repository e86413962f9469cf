#!/bin/sh
# Stand-in for the official postgres image's entrypoint (see scripts/docker-standins): the same
# contract on Debian's PostgreSQL. On an empty PGDATA it creates the cluster with POSTGRES_USER
# (default postgres) and POSTGRES_PASSWORD (required, as in the official image), password auth for
# TCP clients, and the database POSTGRES_DB (default: the user's name); then it runs the command.
# `postgres ARGS` and bare `-c ...` flags run the server as the postgres user, as officially.
set -eu
case "${1:-}" in -*) set -- postgres "$@" ;; esac

if [ "${1:-}" = postgres ]; then
  PGDATA="${PGDATA:-/var/lib/postgresql/data}"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 2775 /var/run/postgresql
    exec gosu postgres "$0" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "Error: Database is uninitialized and superuser password is not specified: set POSTGRES_PASSWORD" >&2
      exit 1
    fi
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
      # A server on the Unix socket only while the database is created, as officially.
      pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses=''" start
      psql -v ON_ERROR_STOP=1 -q --username="$user" --dbname=postgres --set=db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
      pg_ctl -D "$PGDATA" -w -s -m fast stop
    fi
    echo "PostgreSQL init process complete; ready for start up."
  fi
fi
exec "$@"
