#!/bin/sh
# Roles: web (migrate, then gunicorn), worker (RQ on cad/plan/dispatch, recycled), dispatch (the
# outbox loop: queue requests and job orders, with retries), intake (machine status over MQTT),
# migrate, and hunar <command>.
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift
case "$role" in
  web)
    hunar db upgrade
    exec hunar serve --host 0.0.0.0 --port "${PORT:-5000}" --workers "${WEB_WORKERS:-2}" "$@"
    ;;
  worker)
    exec hunar worker --max-jobs "${WORKER_MAX_JOBS:-50}" "$@"
    ;;
  dispatch)
    exec hunar dispatch --loop "$@"
    ;;
  intake)
    exec hunar intake "$@"
    ;;
  migrate)
    exec hunar db upgrade "$@"
    ;;
  hunar)
    exec hunar "$@"
    ;;
  *)
    echo "unknown role '$role': use web, worker, dispatch, intake, migrate or hunar <command>" >&2
    exit 64
    ;;
esac
