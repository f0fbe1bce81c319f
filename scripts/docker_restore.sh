#!/usr/bin/env bash
# make docker-restore FILE=...: restore a backup into the running app
# container (docs/DOCKER.md, "Restore").
#
# The file is copied into the container and handed to `ai-code-reviewer db
# restore --yes`, which first checks it (a SQLite or pg_dump file of ours,
# intact, at a schema revision this release knows) and changes nothing when
# it is refused; otherwise it backs up the live database, restores the file
# and migrates it to this release's schema.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BACKUP_FILE" >&2; exit 2; }
[[ -f $1 ]] || { echo "$0: no such backup file: $1" >&2; exit 1; }
file=$(realpath "$1")
cd "$(dirname "$0")/.."
# shellcheck source=scripts/docker_common.sh
source scripts/docker_common.sh

container=$(app_container)
staged=/tmp/restore-$(basename "$file")
"$DOCKER" cp "$file" "$container:$staged"
trap '"$DOCKER" exec -u 0 "$container" rm -f "$staged"' EXIT
# docker cp leaves the file owned by root; the service's user must read it.
"$DOCKER" exec -u 0 "$container" chown app:app "$staged"
"$DOCKER" exec "$container" ai-code-reviewer db restore --file "$staged" --yes
