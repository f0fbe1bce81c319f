#!/usr/bin/env bash
# make docker-backup: back up the database of the running app container and
# copy the backup to ./backups (docs/DOCKER.md, "Backup").
#
# The backup is taken inside the container by `ai-code-reviewer db backup`:
# SQLite's online backup API (consistent while the service writes), or
# pg_dump on PostgreSQL. It is then copied to
# $HOST_BACKUP_DIR/ai_code_reviewer_YYYYMMDD_HHMMSS.db (.dump), latest_backup.db
# (.dump) is pointed at it, and only the newest $BACKUP_KEEP backups of that
# kind are kept there. The last line printed is the path of the copy.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/docker_common.sh
source scripts/docker_common.sh

HOST_BACKUP_DIR=${HOST_BACKUP_DIR:-./backups}
BACKUP_KEEP=${BACKUP_KEEP:-10}
[[ $BACKUP_KEEP =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a whole number of at least 1"

# Delete all but the newest $3 backups with extension $2 in folder $1.
prune_backups() {
    local folder=$1 extension=$2 keep=$3
    local -a backups
    # Names hold their time (YYYYMMDD_HHMMSS), so byte order is age order.
    mapfile -t backups < <(
        find "$folder" -maxdepth 1 -type f -name "ai_code_reviewer_[0-9]*.$extension" |
            LC_ALL=C sort
    )
    local excess=$((${#backups[@]} - keep))
    ((excess > 0)) || return 0
    rm -f -- "${backups[@]:0:excess}"
    printf 'Removed old backup %s\n' "${backups[@]:0:excess}" >&2
}

container=$(app_container)
inside=$("$DOCKER" exec "$container" ai-code-reviewer db backup | tail -n 1)
[[ $inside == /* ]] || die "ai-code-reviewer db backup did not print a backup path: $inside"

name=$(basename "$inside")
mkdir -p "$HOST_BACKUP_DIR"
"$DOCKER" cp "$container:$inside" "$HOST_BACKUP_DIR/$name"
ln -sfn "$name" "$HOST_BACKUP_DIR/latest_backup.${name##*.}"
prune_backups "$HOST_BACKUP_DIR" "${name##*.}" "$BACKUP_KEEP"
echo "$HOST_BACKUP_DIR/$name"
