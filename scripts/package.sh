#!/usr/bin/env bash
# Builds three packages with Debian's dpkg-deb (and, when rpmbuild is there, the same trees as rpms):
#   redishappy-common   what both flavours share: the single-file bundle (with its code cache,
#                       startup snapshot and launch script), the status page, the
#                       auto-flavour launcher /usr/bin/redishappy and its man page redishappy(8)
#   redishappy-haproxy  /usr/bin wrappers (plus the original's name redis-haproxy), config files as
#   redishappy-consul   conffiles, a systemd unit, the flavour's man page, a system user made at
#                       install; each depends on redishappy-common of the same version.
# No file is in two packages, so both flavours install side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
# Up to 2.0.0 each flavour package held the bundle itself (so the two could not be installed
# together); from 2.1.0 redishappy-common holds it: it takes those files over from older flavours.
split_version=2.1.0
out=dist/packages
# Its own build directory: never touch dist/redishappy.js, which running launchers may be reading.
build=dist/package-build
node scripts/build.mjs "$build" >/dev/null
# Man pages from src/cli/manual.ts, the source --help is made from.
node --import tsx scripts/man.ts "$build/man"
rm -rf "$out" && mkdir -p "$out"
maintainer='redishappy maintainers <redishappy@users.noreply.github.com>'

# A /usr/bin wrapper and its ESM launcher for flavour $2 ("auto" for /usr/bin/redishappy). The
# wrapper goes through /usr/lib/redishappy/launch, which adds the startup snapshot when it fits.
launcher() { # root name flavour
  printf 'const { main } = await import("./redishappy.js");\nawait main("%s");\n' "$3" > "$1/usr/lib/redishappy/$2.mjs"
  printf '#!/bin/sh\nexec /usr/lib/redishappy/launch /usr/lib/redishappy/%s.mjs "$@"\n' "$2" > "$1/usr/bin/$2"
  chmod 0755 "$1/usr/bin/$2"
}

manpage() { # root name
  install -d "$1/usr/share/man/man8"
  gzip -9n < "$build/man/$2.8" > "$1/usr/share/man/man8/$2.8.gz"
  chmod 0644 "$1/usr/share/man/man8/$2.8.gz"
}

# Writes copyright and changelog, builds the .deb, then the .rpm from the same tree.
#   package root name summary description rpm-requires [rpm-scriptlets]
package() {
  local root=$1 name=$2 summary=$3 description=$4 requires=$5 scripts=${6:-}
  install -d "$root/usr/share/doc/$name"
  cat > "$root/usr/share/doc/$name/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: redishappy
Source: https://github.com/mdevilliers/redishappy

Files: *
Copyright: 2015 Mark deVilliers (the original Go redishappy), 2026 the redishappy TypeScript authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' "$name" "$version" "$version" "$maintainer" "$(date -R)" | gzip -9n > "$root/usr/share/doc/$name/changelog.gz"
  dpkg-deb -Zgzip --root-owner-group --build "$root" "$out/${name}_${version}_all.deb" >/dev/null
  echo "built $out/${name}_${version}_all.deb ($(du -h --apparent-size "$out/${name}_${version}_all.deb" | cut -f1))"

  command -v rpmbuild >/dev/null 2>&1 || return 0
  local top files
  top=$(mktemp -d)
  mkdir -p "$top/SPECS" "$top/RPMS"
  # Our own directories (so that removing the package removes them), then every file and link.
  files=$(cd "$root" && {
    find . -path ./DEBIAN -prune -o -type d -path '*redishappy*' -print | sed 's#^\.#%dir #'
    find . -path ./DEBIAN -prune -o \( -type f -o -type l \) -print | sed 's#^\.##' | while read -r f; do case "$f" in /etc/*) echo "%config(noreplace) $f";; *) echo "$f";; esac; done
  })
  cat > "$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: 1
Summary: $summary
License: Apache-2.0
URL: https://github.com/mdevilliers/redishappy
BuildArch: noarch
Requires: $requires
%description
$description
%install
mkdir -p %{buildroot}
cp -a $root/. %{buildroot}/
rm -rf %{buildroot}/DEBIAN
$scripts
%files
$files
SPEC
  rpmbuild --quiet --define "_topdir $top" --define "_rpmdir $top/RPMS" -bb "$top/SPECS/$name.spec" >/dev/null 2>&1 || { echo "rpmbuild failed for $name" >&2; exit 1; }
  find "$top/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
  rm -rf "$top"
  echo "built $(ls "$out"/"$name"-"$version"-*.rpm)"
}

# redishappy-common
name=redishappy-common
root=$(mktemp -d) && chmod 0755 "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/redishappy/page"
# The entry (redishappy.js), the daemon (redishappy.cjs) and its V8 code cache (used only by the
# Node version that built it; another one just compiles, see scripts/code-cache.mjs), and the
# spawner helper that forks reload/validate/Exec commands (src/spawn/spawner.ts).
install -m 0644 "$build/redishappy.js" "$build/redishappy.cjs" "$build/redishappy.cjs.cache" "$build/spawn-helper.cjs" "$root/usr/lib/redishappy/"
# The V8 startup snapshot and its stamp beside them (like the code cache, only used by the Node
# that built it: launch checks the stamp and otherwise starts from the bundle, see scripts/launch.sh).
# The build leaves them out when Node could not make one; launch then always uses the bundle.
if [ -f "$build/redishappy.blob" ]; then
  install -m 0644 "$build/redishappy.blob" "$build/redishappy.blob.stamp" "$root/usr/lib/redishappy/"
fi
install -m 0755 "$build/launch" "$root/usr/lib/redishappy/launch"
install -m 0644 "$build/page/index.html" "$root/usr/lib/redishappy/page/index.html"
launcher "$root" redishappy auto
manpage "$root" redishappy
cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: $maintainer
Depends: nodejs (>= 20)
Replaces: redishappy-haproxy (<< $split_version), redishappy-consul (<< $split_version)
Breaks: redishappy-haproxy (<< $split_version), redishappy-consul (<< $split_version)
Section: net
Priority: optional
Homepage: https://github.com/mdevilliers/redishappy
Description: present the confirmed Redis Sentinel master (shared files)
 Watches Redis Sentinels and publishes each cluster's confirmed master (highest
 config-epoch, answering ROLE master) to HAProxy and/or Consul, so that clients
 that are not Sentinel-aware survive failovers.
 .
 This package holds what redishappy-haproxy and redishappy-consul share: the
 program itself, its status page, and the redishappy command, which drives every
 output whose section is present in the configuration file given to it.
CONTROL
package "$root" "$name" "Present the confirmed Redis Sentinel master (shared files)" \
  "The redishappy program, its status page and the redishappy command shared by redishappy-haproxy and redishappy-consul." \
  "nodejs >= 20"
rm -rf "$root"

for flavour in haproxy consul; do
  name="redishappy-$flavour"
  root=$(mktemp -d) && chmod 0755 "$root"
  install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/redishappy" "$root/etc/$name" "$root/lib/systemd/system"
  launcher "$root" "$name" "$flavour"
  ln -s "$name" "$root/usr/bin/redis-$flavour"
  install -m 0640 "packaging/configs/$flavour-config.json" "$root/etc/$name/config.json"
  echo "/etc/$name/config.json" > "$root/DEBIAN/conffiles"
  if [ "$flavour" = haproxy ]; then
    install -m 0640 examples/haproxy/haproxy_template_runtime.cfg "$root/etc/$name/haproxy_template.cfg"
    echo "/etc/$name/haproxy_template.cfg" >> "$root/DEBIAN/conffiles"
    install -m 0755 packaging/haproxy-reload.mjs "$root/usr/lib/redishappy/haproxy-reload"
  fi
  manpage "$root" "$name"
  ln -s "$name.8.gz" "$root/usr/share/man/man8/redis-$flavour.8.gz"
  install -m 0644 "packaging/systemd/$name.service" "$root/lib/systemd/system/$name.service"
  recommends=""
  [ "$flavour" = haproxy ] && recommends="Recommends: haproxy (>= 2.6)"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: $maintainer
Depends: redishappy-common (= $version), nodejs (>= 20), adduser
${recommends}
Section: net
Priority: optional
Homepage: https://github.com/mdevilliers/redishappy
Description: present the confirmed Redis Sentinel master to ${flavour}
 Watches Redis Sentinels and publishes each cluster's confirmed master (highest
 config-epoch, answering ROLE master) to ${flavour}, so that clients that are not
 Sentinel-aware survive failovers. Drop-in for the original redishappy-${flavour}.
CONTROL
  sed -i '/^$/d' "$root/DEBIAN/control"
  cat > "$root/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
  getent group redishappy >/dev/null || addgroup --system redishappy >/dev/null
  getent passwd redishappy >/dev/null || adduser --system --ingroup redishappy --home /nonexistent --no-create-home --shell /usr/sbin/nologin redishappy >/dev/null
  if [ "$flavour" = haproxy ] && getent group haproxy >/dev/null; then adduser redishappy haproxy >/dev/null || true; fi
  install -d -o redishappy -g redishappy -m 0750 /var/log/$name
  chgrp redishappy /etc/$name/* && chmod 0640 /etc/$name/*
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; systemctl enable $name.service >/dev/null 2>&1 || true; fi
fi
POSTINST
  cat > "$root/DEBIAN/prerm" <<PRERM
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl stop $name.service >/dev/null 2>&1 || true; fi
PRERM
  cat > "$root/DEBIAN/postrm" <<POSTRM
#!/bin/sh
set -e
if [ "\$1" = purge ]; then rm -rf /var/log/$name; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTRM
  chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
  # The rpm's scriptlets: the same user and log directory as the postinst.
  rpm_scripts="%pre
getent group redishappy >/dev/null || groupadd -r redishappy
getent passwd redishappy >/dev/null || useradd -r -g redishappy -d /nonexistent -s /sbin/nologin redishappy
%post
install -d -o redishappy -g redishappy -m 0750 /var/log/$name"
  package "$root" "$name" "Present the confirmed Redis Sentinel master to $flavour" \
    "Watches Redis Sentinels and publishes each cluster's confirmed master to $flavour. Drop-in for the original redishappy-$flavour." \
    "redishappy-common = $version-1, nodejs >= 20" "$rpm_scripts"
  rm -rf "$root"
done
