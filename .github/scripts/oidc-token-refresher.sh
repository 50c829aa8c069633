#!/usr/bin/env bash
# Writes a GitHub OIDC token for Entra to FILE now, then replaces it every 4 minutes in the
# background for the rest of the job (the runner stops it at the job's end). GitHub's token expires
# after about 5 minutes and provision reads the file afresh for every Entra token it asks for, so a
# long `up --verify` never presents an expired assertion. The file is replaced atomically.
set -euo pipefail
FILE="$1"
fetch() {
  curl -sSf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
    "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange" | jq -r .value >"$FILE.new"
  [ -s "$FILE.new" ] && mv "$FILE.new" "$FILE"
}
fetch
nohup bash -c "while sleep 240; do $(declare -f fetch); FILE='$FILE' fetch || true; done" >/dev/null 2>&1 &
echo "OIDC token at $FILE, refreshed every 4 minutes"
