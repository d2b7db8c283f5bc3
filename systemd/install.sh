#!/usr/bin/env bash
# Install assistant as an unattended device on Raspberry Pi OS Bookworm (64-bit, Lite or desktop).
#
#   sudo systemd/install.sh            # from a checkout or a release archive (docs/install-pi.md)
#   sudo systemd/install.sh --no-start # install and enable, but do not start now
#   systemd/install.sh --dry-run       # print what would be done, change nothing
#   systemd/install.sh --root DIR --user NAME --skip-packages --skip-venv
#                                      # lay the files out under DIR (an image, or a test):
#                                      # no apt-get, no new user, no systemctl, no downloads
#
# What it does (safe to run again, e.g. after `git pull`, to upgrade):
#   1. Debian packages: Python venv, PortAudio, ALSA tools, the lgpio library.
#   2. A system user `assistant` (no login) in the groups audio and gpio; the admin who ran
#      sudo joins the group `assistant`, to read what commands write in the exports folder.
#   3. The program in a virtual environment at /opt/assistant/venv (source copy in
#      /opt/assistant/src); data in /var/lib/assistant; settings in /etc/assistant/config.toml.
#   4. The `assistant` command on the PATH (/usr/local/bin/assistant): it runs the program as
#      the service user with the service's settings, for whoever types it.
#   5. The speech models, with `assistant models download`, if there is a network.
#   6. A polkit rule so holding yes + no for 5 s can power the device off safely.
#   7. The systemd units: assistant.service (enabled, started), assistant-sync.timer and
#      assistant-sync.path (a flag is sent at once).
set -euo pipefail

DRY_RUN=0
START=1
ROOT=""
USER_NAME=assistant
PACKAGES_STEP=1
VENV_STEP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --root) ROOT="${2:?--root needs a folder}"; shift ;;
    --user) USER_NAME="${2:?--user needs a name}"; shift ;;
    --skip-packages) PACKAGES_STEP=0 ;;
    --skip-venv) VENV_STEP=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$ROOT" ]; then
  ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"
  START=0
fi

SRC="$(cd "$(dirname "$0")/.." && pwd)"
# Where things are on the device (the wrapper and the config name these) ...
PREFIX_ON=/opt/assistant
DATA_ON=/var/lib/assistant
CONF_ON=/etc/assistant
# ... and where they are written now (the same, unless --root).
PREFIX="$ROOT$PREFIX_ON"
VENV="$PREFIX/venv"
DATA="$ROOT$DATA_ON"
EXPORTS="$DATA/exports"
CONF_DIR="$ROOT$CONF_ON"
UNIT_DIR="$ROOT/etc/systemd/system"
BIN_DIR="$ROOT/usr/local/bin"
MODELS=(vosk-model-small-en-us-0.15)
ADMIN="${SUDO_USER:-}"

run() {
  echo "+ $*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}

as_user() {
  run runuser -u "$USER_NAME" -- env ASSISTANT_CONFIG="$CONF_DIR/config.toml" \
    ASSISTANT_DATA="$DATA" HOME="$DATA" "$@"
}

if [ -n "$ROOT" ] && ! id "$USER_NAME" >/dev/null 2>&1; then
  echo "install.sh: with --root, --user must name a user that exists here" >&2
  exit 2
fi
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run me as root (sudo $0)" >&2
  exit 1
fi
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
    echo "install.sh: warning: made for Debian/Raspberry Pi OS bookworm, this is ${PRETTY_NAME:-unknown}" >&2
  fi
fi

echo "== 1. Debian packages"
if [ "$PACKAGES_STEP" -eq 1 ]; then
  run apt-get update -q
  PACKAGES=(python3-venv python3-dev libportaudio2 libasound2-plugins alsa-utils ca-certificates sudo)
  if apt-cache show liblgpio1 >/dev/null 2>&1 || [ "$DRY_RUN" -eq 1 ]; then
    PACKAGES+=(liblgpio1)
  fi
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
else
  echo "(skipped: --skip-packages)"
fi

echo "== 2. The user $USER_NAME"
if [ -z "$ROOT" ]; then
  if ! getent group gpio >/dev/null; then
    run groupadd --system gpio
  fi
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    run useradd --system --home-dir "$DATA_ON" --no-create-home --shell /usr/sbin/nologin \
      --groups audio,gpio --comment "assistant device service" "$USER_NAME"
  else
    run usermod --append --groups audio,gpio "$USER_NAME"
  fi
  if [ -n "$ADMIN" ] && [ "$ADMIN" != root ] && [ "$ADMIN" != "$USER_NAME" ]; then
    run usermod --append --groups "$USER_NAME" "$ADMIN"  # to read the exports folder
  fi
else
  echo "(using the existing user $USER_NAME: --root)"
fi
if [ "$DRY_RUN" -eq 1 ] && ! id "$USER_NAME" >/dev/null 2>&1; then
  GROUP_NAME="$USER_NAME"
else
  GROUP_NAME="$(id -gn "$USER_NAME")"
fi
run install -d -o "$USER_NAME" -g "$GROUP_NAME" -m 0750 "$DATA"
# What commands write for the admin (summaries, exports): group-readable, new files stay in
# the group (setgid).
run install -d -o "$USER_NAME" -g "$GROUP_NAME" -m 2750 "$EXPORTS"
run install -d -m 0755 "$CONF_DIR" "$PREFIX"

echo "== 3. The program in $VENV"
run rm -rf "$PREFIX/src.new"
run install -d -m 0755 "$PREFIX/src.new"
run tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude='__pycache__' -cf "$PREFIX/src.tar" .
run tar -C "$PREFIX/src.new" -xf "$PREFIX/src.tar"
run rm -f "$PREFIX/src.tar"
run rm -rf "$PREFIX/src"
run mv "$PREFIX/src.new" "$PREFIX/src"
if [ "$VENV_STEP" -eq 1 ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    run python3 -m venv "$VENV"
  fi
  run "$VENV/bin/pip" install -q --upgrade pip
  run "$VENV/bin/pip" install -q "$PREFIX/src[pi]"
else
  echo "(skipped the virtual environment: --skip-venv)"
fi
if [ ! -e "$CONF_DIR/config.toml" ]; then
  echo "+ write $CONF_DIR/config.toml"
  if [ "$DRY_RUN" -eq 0 ]; then
    cat >"$CONF_DIR/config.toml" <<EOF
# assistant settings (every key has a default: 'assistant config' prints them all).
[records]
data_dir = "$DATA_ON"

[buttons]
backend = "gpio"
EOF
    chmod 0644 "$CONF_DIR/config.toml"
  fi
fi

echo "== 4. The assistant command: $BIN_DIR/assistant"
echo "+ write $BIN_DIR/assistant"
if [ "$DRY_RUN" -eq 0 ]; then
  install -d -m 0755 "$BIN_DIR"
  sed -e "s|^VENV=.*|VENV=$PREFIX_ON/venv|" \
    -e "s|^CONFIG=.*|CONFIG=$CONF_ON/config.toml|" \
    -e "s|^DATA=.*|DATA=$DATA_ON|" \
    -e "s|^EXPORTS=.*|EXPORTS=$DATA_ON/exports|" \
    -e "s|^SERVICE_USER=.*|SERVICE_USER=$USER_NAME|" \
    "$SRC/systemd/assistant" >"$BIN_DIR/assistant.new"
  chmod 0755 "$BIN_DIR/assistant.new"
  mv "$BIN_DIR/assistant.new" "$BIN_DIR/assistant"
fi

echo "== 5. Speech models"
if [ -n "$ROOT" ] || [ "$VENV_STEP" -eq 0 ]; then
  echo "(skipped: --root or --skip-venv)"
elif getent hosts github.com >/dev/null 2>&1 || getent hosts alphacephei.com >/dev/null 2>&1; then
  for model in "${MODELS[@]}"; do
    as_user "$VENV/bin/assistant" models download --quiet "$model" ||
      echo "install.sh: could not download $model; the embedded models will be used" >&2
  done
else
  echo "No network: skipping model downloads (the embedded models will be used)."
  echo "Later: assistant models download ${MODELS[0]}"
fi

echo "== 6. Safe shutdown from the buttons"
POLKIT="$ROOT/etc/polkit-1/rules.d/50-assistant-poweroff.rules"
echo "+ write $POLKIT"
if [ "$DRY_RUN" -eq 0 ]; then
  install -d -m 0755 "$ROOT/etc/polkit-1/rules.d"
  cat >"$POLKIT" <<'EOF'
// Let the assistant service power the device off (yes + no held for 5 seconds).
polkit.addRule(function(action, subject) {
  if ((action.id == "org.freedesktop.login1.power-off" ||
       action.id == "org.freedesktop.login1.power-off-multiple-sessions") &&
      subject.user == "ASSISTANT_USER") {
    return polkit.Result.YES;
  }
});
EOF
  sed -i "s|ASSISTANT_USER|$USER_NAME|" "$POLKIT"
fi

echo "== 7. systemd units"
run install -d -m 0755 "$UNIT_DIR"
for unit in assistant.service assistant-sync.service assistant-sync.timer assistant-sync.path; do
  run install -m 0644 "$SRC/systemd/$unit" "$UNIT_DIR/$unit"
done
if [ -z "$ROOT" ]; then
  run systemctl daemon-reload
  run systemctl enable assistant.service assistant-sync.timer assistant-sync.path
  if [ "$START" -eq 1 ]; then
    run systemctl restart assistant.service
    run systemctl start assistant-sync.timer assistant-sync.path
  fi
else
  echo "(not enabled: --root; on the device: systemctl enable assistant.service assistant-sync.timer assistant-sync.path)"
fi

echo
echo "Installed. Check the device with:  assistant check"
echo "Add a person:                      assistant people add Sam --consent yes"
echo "Service log:                       journalctl -u assistant -f"
if [ -n "$ADMIN" ] && [ -z "$ROOT" ]; then
  echo "($ADMIN: log out and in again once, to read files in $EXPORTS.)"
fi
