#!/usr/bin/env bash
# make docker-upgrade: back up, rebuild, recreate, and roll back when the new
# release does not become ready (docs/DOCKER.md, "Upgrade").
#
# 1. Back up the database (scripts/docker_backup.sh) and tag the image of the
#    running app container as $IMAGE:previous.
# 2. Build the image and recreate the app (and worker) from it; the new
#    release migrates the database as it starts.
# 3. Wait up to READY_TIMEOUT seconds for the image's health check (/ready).
# 4. When it does not pass: tag $IMAGE:previous as $IMAGE:latest again, stop
#    the containers, restore the backup of step 1 with the previous release
#    (a database the new release migrated would stop the previous one from
#    starting), recreate the containers and exit 1. The restore first backs
#    up what the failed release left, inside the volume.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/docker_common.sh
source scripts/docker_common.sh

# The image of docker/docker-compose.yml.
IMAGE=ai-code-reviewer
READY_TIMEOUT=${READY_TIMEOUT:-120}
READY_POLL_SECONDS=${READY_POLL_SECONDS:-2}
[[ $READY_TIMEOUT =~ ^[0-9]+$ ]] || die "READY_TIMEOUT must be a number of seconds"

# Print the services that run the image: every enabled one but postgres.
image_services() {
    "${compose[@]}" config --services | grep -vx postgres
}

# Wait until the app container's health check passes; fail when it reports
# unhealthy, when the container exits or restarts, or after READY_TIMEOUT.
wait_until_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT)) id state
    local format='{{.State.Status}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{end}}'
    while ((SECONDS <= deadline)); do
        id=$("${compose[@]}" ps -a -q app)
        state=$("$DOCKER" inspect --format "$format" "$id")
        case $state in
            "running 0 healthy") return 0 ;;
            "running 0 unhealthy") break ;;
            "running 0 "* | "created 0 "*) sleep "$READY_POLL_SECONDS" ;;
            *) break ;;
        esac
    done
    echo "docker-upgrade: the app is not ready (${state:-no container});" \
        "see make docker-logs" >&2
    return 1
}

# Go back to $IMAGE:previous with the database of backup $1.
roll_back() {
    local backup=$1 staged
    staged=/tmp/$(basename "$backup")
    echo "docker-upgrade: rolling back to $IMAGE:previous and $backup" >&2
    # Called after ||, where set -e does not act: each step checks itself.
    "$DOCKER" tag "$IMAGE:previous" "$IMAGE:latest" || return 1
    "${compose[@]}" stop "${services[@]}" || return 1
    "${compose[@]}" run --rm --no-deps --name ai-code-reviewer-rollback \
        -v "$(realpath "$backup"):$staged:ro" \
        app ai-code-reviewer db restore --file "$staged" --yes || return 1
    "${compose[@]}" up -d --force-recreate "${services[@]}" || return 1
    wait_until_ready
}

container=$(app_container)
previous=$("$DOCKER" inspect --format '{{.Image}}' "$container")
backup=$(scripts/docker_backup.sh | tail -n 1)
"$DOCKER" tag "$previous" "$IMAGE:previous"
mapfile -t services < <(image_services)

"${compose[@]}" build
"${compose[@]}" up -d --force-recreate "${services[@]}"
if wait_until_ready; then
    echo "docker-upgrade: the new release is ready; the backup is $backup"
    exit 0
fi
roll_back "$backup" || die "the previous release is not ready either; the backup is $backup"
die "the new release was not ready: rolled back to $IMAGE:previous with $backup"
