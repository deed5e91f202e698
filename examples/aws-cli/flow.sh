#!/usr/bin/env bash
# The AWS CLI against `dpsim serve --clock manual` (started first, on ENDPOINT): define and
# activate a pipeline, take its task as runner-a, miss the acknowledgement deadline by moving
# the still clock, let runner-b take it over, and read the ownership log serve kept.
#   bash examples/aws-cli/flow.sh http://127.0.0.1:8123
set -euo pipefail
endpoint=${1:-http://127.0.0.1:8123}
here=$(cd "$(dirname "$0")" && pwd)
export AWS_ACCESS_KEY_ID=AKIDDPSIM AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1
dp() { ${AWS:-aws} --endpoint-url "$endpoint" datapipeline "$@"; }

id=$(dp create-pipeline --name copy --unique-id copy-1 --query pipelineId --output text)
dp put-pipeline-definition --pipeline-id "$id" --pipeline-definition "file://$here/definition.json" --query errored
dp activate-pipeline --pipeline-id "$id"
t1=$(dp poll-for-task --worker-group wg-1 --hostname runner-a --query taskObject.taskId --output text)
curl -s -XPOST "$endpoint/_dpsim/clock/advance" -d '{"seconds": 121}'; echo
t2=$(dp poll-for-task --worker-group wg-1 --hostname runner-b --query taskObject.taskId --output text)
dp report-task-progress --task-id "$t1" --query canceled      # runner-a, too late: true
dp report-task-progress --task-id "$t2" --query canceled      # runner-b: false
dp set-task-status --task-id "$t2" --task-status FINISHED
# list-runs looks at the last 4 days of the machine's clock unless told: give the manual clock's.
dp list-runs --pipeline-id "$id" --start-interval 2026-01-01T00:00:00,2026-01-02T00:00:00
curl -s "$endpoint/_dpsim/log"
