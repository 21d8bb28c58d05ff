#!/bin/sh
# The stand-in's own start (not the official image's script): on an empty data directory,
# a cluster whose superuser is POSTGRES_USER (default postgres) with POSTGRES_PASSWORD, and
# the database POSTGRES_DB (default: the user's name); then the server, as user postgres,
# listening on every interface of the container with password (SCRAM) logins.
set -eu

if [ "${1:-}" != postgres ]; then
    exec "$@"  # any other command, as given (a shell, psql ...)
fi

if [ "$(id -u)" = 0 ]; then
    # a fresh named volume is root's: hand it to postgres, then start again as postgres
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the stand-in needs POSTGRES_PASSWORD, as the official image does}"
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    pwfile=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        # meanwhile no TCP and a private socket: a health probe (pg_isready) must not see
        # this short-lived server as the database being up
        sockets=$(mktemp -d)
        pg_ctl --pgdata="$PGDATA" --wait --silent \
            --options="-c listen_addresses='' -c unix_socket_directories=$sockets" start
        createdb --host="$sockets" --username="$user" --maintenance-db=postgres "$db"
        pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
        rmdir "$sockets"
    fi
    echo "stand-in: made the cluster for user $user, database $db in $PGDATA"
fi

exec "$@"
