#!/usr/bin/env bash
# Install assistant as an unattended device on Raspberry Pi OS Bookworm (64-bit, Lite or desktop).
#
#   sudo systemd/install.sh            # from a checkout of the repository
#   sudo systemd/install.sh --no-start # install and enable, but do not start now
#   systemd/install.sh --dry-run       # print what would be done, change nothing
#
# What it does (safe to run again, e.g. after `git pull`, to upgrade):
#   1. Debian packages: Python venv, PortAudio, ALSA tools, the lgpio library.
#   2. A system user `assistant` (no login) in the groups audio and gpio.
#   3. The program in a virtual environment at /opt/assistant/venv (source copy in
#      /opt/assistant/src); data in /var/lib/assistant; settings in /etc/assistant/config.toml.
#   4. The speech models, with `assistant models download`, if there is a network.
#   5. A polkit rule so holding yes + no for 5 s can power the device off safely.
#   6. The systemd units: assistant.service (enabled, started) and assistant-sync.timer.
set -euo pipefail

DRY_RUN=0
START=1
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/assistant
VENV="$PREFIX/venv"
DATA=/var/lib/assistant
CONF_DIR=/etc/assistant
UNIT_DIR=/etc/systemd/system
USER_NAME=assistant
MODELS=(vosk-model-small-en-us-0.15)

run() {
  echo "+ $*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}

as_user() {
  run runuser -u "$USER_NAME" -- env ASSISTANT_CONFIG="$CONF_DIR/config.toml" \
    ASSISTANT_DATA="$DATA" HOME="$DATA" "$@"
}

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
run apt-get update -q
PACKAGES=(python3-venv python3-dev libportaudio2 libasound2-plugins alsa-utils ca-certificates)
if apt-cache show liblgpio1 >/dev/null 2>&1 || [ "$DRY_RUN" -eq 1 ]; then
  PACKAGES+=(liblgpio1)
fi
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

echo "== 2. The user $USER_NAME"
if ! getent group gpio >/dev/null; then
  run groupadd --system gpio
fi
if ! id "$USER_NAME" >/dev/null 2>&1; then
  run useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin \
    --groups audio,gpio --comment "assistant device service" "$USER_NAME"
else
  run usermod --append --groups audio,gpio "$USER_NAME"
fi
run install -d -o "$USER_NAME" -g "$USER_NAME" -m 0750 "$DATA"
run install -d -m 0755 "$CONF_DIR" "$PREFIX"

echo "== 3. The program in $VENV"
run rm -rf "$PREFIX/src.new"
run install -d -m 0755 "$PREFIX/src.new"
run tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude='__pycache__' -cf "$PREFIX/src.tar" .
run tar -C "$PREFIX/src.new" -xf "$PREFIX/src.tar"
run rm -f "$PREFIX/src.tar"
run rm -rf "$PREFIX/src"
run mv "$PREFIX/src.new" "$PREFIX/src"
if [ ! -x "$VENV/bin/python" ]; then
  run python3 -m venv "$VENV"
fi
run "$VENV/bin/pip" install -q --upgrade pip
run "$VENV/bin/pip" install -q "$PREFIX/src[pi]"
if [ ! -e "$CONF_DIR/config.toml" ]; then
  echo "+ write $CONF_DIR/config.toml"
  if [ "$DRY_RUN" -eq 0 ]; then
    cat >"$CONF_DIR/config.toml" <<EOF
# assistant settings (every key has a default: 'assistant config' prints them all).
[records]
data_dir = "$DATA"

[buttons]
backend = "gpio"
EOF
    chmod 0644 "$CONF_DIR/config.toml"
  fi
fi

echo "== 4. Speech models"
if getent hosts github.com >/dev/null 2>&1 || getent hosts alphacephei.com >/dev/null 2>&1; then
  for model in "${MODELS[@]}"; do
    as_user "$VENV/bin/assistant" models download --quiet "$model" ||
      echo "install.sh: could not download $model; the embedded models will be used" >&2
  done
else
  echo "No network: skipping model downloads (the embedded models will be used)."
  echo "Later: sudo -u $USER_NAME $VENV/bin/assistant models download ${MODELS[0]}"
fi

echo "== 5. Safe shutdown from the buttons"
POLKIT=/etc/polkit-1/rules.d/50-assistant-poweroff.rules
echo "+ write $POLKIT"
if [ "$DRY_RUN" -eq 0 ]; then
  install -d -m 0755 /etc/polkit-1/rules.d
  cat >"$POLKIT" <<'EOF'
// Let the assistant service power the device off (yes + no held for 5 seconds).
polkit.addRule(function(action, subject) {
  if ((action.id == "org.freedesktop.login1.power-off" ||
       action.id == "org.freedesktop.login1.power-off-multiple-sessions") &&
      subject.user == "assistant") {
    return polkit.Result.YES;
  }
});
EOF
fi

echo "== 6. systemd units"
for unit in assistant.service assistant-sync.service assistant-sync.timer; do
  run install -m 0644 "$SRC/systemd/$unit" "$UNIT_DIR/$unit"
done
run systemctl daemon-reload
run systemctl enable assistant.service assistant-sync.timer
if [ "$START" -eq 1 ]; then
  run systemctl restart assistant.service
  run systemctl start assistant-sync.timer
fi

echo
echo "Installed. Check the device with:  sudo -u $USER_NAME $VENV/bin/assistant check"
echo "Service log:                       journalctl -u assistant -f"
