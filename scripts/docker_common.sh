# shellcheck shell=bash
# Sourced by scripts/docker_*.sh: the Compose command and the app container.
#
# COMPOSE is the whole Compose command line, files and profiles included
# (the Makefile passes its own); DOCKER is the docker client.

DOCKER=${DOCKER:-docker}
read -ra compose <<<"${COMPOSE:-docker compose -f docker/docker-compose.yml}"

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# Print the id of the running app container; fail when there is none.
app_container() {
    local id
    id=$("${compose[@]}" ps -q app)
    [[ -n $id ]] || die "the app container is not running; start it with make docker-run"
    printf '%s\n' "$id"
}
