#!/bin/sh
# Install the desktop entry and icon of this iris_gui bundle for the current user:
#   ~/.local/share/applications/iris_gui.desktop   (Exec/TryExec -> this folder's iris-gui)
#   ~/.local/share/icons/hicolor/scalable/apps/iris_gui.svg
# Run it from the unpacked bundle (dist/iris_gui/install-desktop-entry.sh); run it again after
# moving the folder. Remove with: rm ~/.local/share/applications/iris_gui.desktop \
#   ~/.local/share/icons/hicolor/scalable/apps/iris_gui.svg
set -eu
bundle=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
cp "$bundle/iris_gui.svg" "$data/icons/hicolor/scalable/apps/iris_gui.svg"
sed -e "s#^Exec=.*#Exec=\"$bundle/iris-gui\" %F#" -e "s#^TryExec=.*#TryExec=$bundle/iris-gui#" \
    -e '/^# install-desktop-entry.sh/d' -e '/^# \/opt\/iris_gui/d' \
    "$bundle/iris_gui.desktop" > "$data/applications/iris_gui.desktop"
chmod 644 "$data/applications/iris_gui.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$data/icons/hicolor" 2>/dev/null || true
echo "installed $data/applications/iris_gui.desktop (Exec=$bundle/iris-gui)"
