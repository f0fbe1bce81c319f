#!/usr/bin/env bash
# Entry point of the image (docker/Dockerfile): adopt a SQLite database that
# was copied in with `docker cp`, then run the container's command.
#
# `docker cp backup.db <container>:/app/data/ai_code_reviewer.db` (the
# restore of docs/DATABASE.md) replaces the file with a new one owned by
# root, which the service's user "app" cannot write. The -wal and -shm files
# beside it belong to the database that was replaced: SQLite would replay
# that old -wal into the new file. So a database file owned by another user
# is copied into a file of our own, and the old database's -wal, -shm and
# -journal are removed. A file the service wrote itself is never touched.
set -euo pipefail

# Print the file of a SQLite DATABASE_URL; nothing for another database.
sqlite_path() {
    local url=${DATABASE_URL:-}
    case $url in
        sqlite*:///*)
            local path=${url#*:///}
            printf '%s\n' "${path%%\?*}"
            ;;
    esac
}

adopt_copied_database() {
    local db=$1
    [[ -f $db && ! -O $db ]] || return 0
    if [[ ! -r $db ]]; then
        echo "docker-entrypoint: cannot read $db, copied in by another user" \
            "with mode $(stat -c %a "$db"); make it readable (chmod 644) on the" \
            "host and copy it in again" >&2
        exit 1
    fi
    cp "$db" "$db.adopting"
    mv -f "$db.adopting" "$db"
    rm -f "$db-wal" "$db-shm" "$db-journal"
    echo "docker-entrypoint: adopted $db, copied in by another user;" \
        "removed the replaced database's -wal and -shm" >&2
}

db=$(sqlite_path)
if [[ -n $db ]]; then
    adopt_copied_database "$db"
fi
exec "$@"
