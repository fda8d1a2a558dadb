# Sourced by `make test` (not run): everything the suite needs besides Python packages, set up when
# missing, so that `make test` alone works on a fresh Debian or Ubuntu machine.
#
# - system packages: redis-server, PostgreSQL, Chromium (the end-to-end tests drive it) and promtool (Debian's
#   prometheus package: the alert rules' checks and unit tests), installed with apt-get when missing (as
#   root, or through sudo); elsewhere it says which to install and stops;
# - kubectl the same way (apt's kubectl where there is one, else Debian's kubernetes-client, which provides
#   it): tests/deploy/test_kubernetes.py renders the Kubernetes manifests (deploy/kubernetes) with it;
# - Redis on 127.0.0.1:6379 (the tests use its database 15), started when none answers;
# - PostgreSQL on 127.0.0.1:5432, started when none answers; POSTGRES_TEST_URL is exported when a login
#   works, and the database-backed tests then run on it too (SKIP_POSTGRES=1 leaves it out).
# Nothing is started or installed when it is already there. TEST_SERVICES=packages installs the system
# packages only (`make compose-check` needs Chromium, and its own Redis and PostgreSQL in containers).

_services_fail() { echo "make test: $*" >&2; return 1; }

_services_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v pg_isready >/dev/null || missing+=(postgresql)
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "${CHROMIUM:-}" ] \
    || missing+=(chromium)
  command -v promtool >/dev/null || missing+=(prometheus)
  if ! command -v kubectl >/dev/null; then
    if apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then missing+=(kubectl); else missing+=(kubernetes-client); fi
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  local as_root=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null && as_root=(sudo) \
      || _services_fail "install the system packages the tests need: sudo apt-get install ${missing[*]}" || return 1
  fi
  command -v apt-get >/dev/null \
    || _services_fail "install these with your system's package manager: ${missing[*]}" || return 1
  echo "make test: installing ${missing[*]} (apt-get)"
  "${as_root[@]}" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

_services_redis() {
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
  echo "make test: starting redis-server on 127.0.0.1:6379"
  redis-server --port 6379 --bind 127.0.0.1 --save "" --daemonize yes >/dev/null
}

_services_postgres() {
  [ "${SKIP_POSTGRES:-}" = 1 ] && return 0
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "make test: starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      ${SUDO_PG:-} pg_ctlcluster "$(ls /etc/postgresql | sort -V | tail -1)" main start 2>/dev/null || true
    else
      service postgresql start >/dev/null 2>&1 || true
    fi
    for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  [ -n "${POSTGRES_TEST_URL:-}" ] && return 0
  local user
  for user in postgres "$(id -un)"; do
    if psql -h 127.0.0.1 -U "$user" -d postgres -Atc 'select 1' >/dev/null 2>&1; then
      export POSTGRES_TEST_URL="postgres://${user}@127.0.0.1:5432/test"
      return 0
    fi
  done
  echo "make test: WARNING: no PostgreSQL login on 127.0.0.1:5432; the PostgreSQL leg will not run" >&2
}

_services_packages && { [ "${TEST_SERVICES:-all}" = packages ] || { _services_redis && _services_postgres; }; }
