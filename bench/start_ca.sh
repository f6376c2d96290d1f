# Sourced by the bench scripts.
#
# write_ca_toml DIR [EXTRA]: DIR/ca.toml for a CA on 127.0.0.1 with its
# state, admin socket and passphrase in DIR, then the TOML in EXTRA.
write_ca_toml() {
  cat > "$1/ca.toml" <<TOML
trust_domain = "example.org"
state_dir = "$1/ca"
listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
admin_socket = "$1/admin.sock"
server_names = ["127.0.0.1"]
[ca]
key_passphrase_file = "$1/pass"
TOML
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" >> "$1/ca.toml"; fi
}

# start_ca CA_BINARY DIR initialises the CA
# whose config is DIR/ca.toml, starts `mayfly-ca serve` in the background
# (log in DIR/ca.log) and waits for its ready line; sets ca_pid and api
# (host:port of the API).
start_ca() {
  "$1" init --config "$2/ca.toml" > /dev/null
  "$1" serve --config "$2/ca.toml" > "$2/ca.log" 2>&1 &
  ca_pid=$!
  for _ in $(seq 1 200); do grep -q '^ready ' "$2/ca.log" && break; sleep 0.05; done
  api=$(sed -n 's/^ready api=\([^ ]*\).*/\1/p' "$2/ca.log")
  [ -n "$api" ] || { cat "$2/ca.log" >&2; exit 1; }
}

# write_join_token CA_BINARY DIR NODE: a join token for NODE from the CA
# whose config is DIR/ca.toml, written to DIR/token; sets ca_fingerprint
# (the root's, for an agent.toml).
write_join_token() {
  local answer
  answer=$("$1" --config "$2/ca.toml" --json token create --node "$3" |
    sed -n 's/.*"token":"\([^"]*\)".*"ca_fingerprint":"\([^"]*\)".*/\1 \2/p')
  [ -n "$answer" ] || { echo "token create --node $3 failed" >&2; exit 1; }
  echo "${answer% *}" > "$2/token"
  ca_fingerprint=${answer#* }
}

# cpu_ticks_of PID: the user + system CPU time PID has used, in clock ticks.
cpu_ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# cpu_ms_per_answer PID TICKS_BEFORE OUT: the server's CPU time (PID's, since
# TICKS_BEFORE) per answer counted in the mayfly-load output OUT, in ms:
# what one request costs the server, whatever the load generator beside it
# takes of the same cores.
cpu_ms_per_answer() {
  awk -v used=$(($(cpu_ticks_of "$1") - $2)) -v hz="$(getconf CLK_TCK)" \
    '/^(certificates|answers|tokens) / {n = $2} END {printf "%.3f", (n > 0 ? 1000 * used / hz / n : 0)}' "$3"
}
