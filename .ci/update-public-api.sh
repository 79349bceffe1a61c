#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to its project's PublicAPI.Unshipped.txt.
# Run it after changing a package's public API, then review the diff: that diff is the API change.
# Removed symbols (RS0017) are not handled: delete their lines by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in NsqTyped.Protocol NsqTyped NsqTyped.MessagePack NsqTyped.Testing NsqTyped.Hosting; do
  file="src/$project/PublicAPI.Unshipped.txt"
  added=$(dotnet build "src/$project/$project.csproj" 2>&1 \
    | grep "error RS0016" | grep "src/$project/$project.csproj\]" \
    | sed -E "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/" | sort -u || true)
  if [ -n "$added" ]; then
    { grep -v '^#nullable' "$file"; echo "$added"; } | sort -u > "$file.new"
    { echo '#nullable enable'; cat "$file.new"; } > "$file"
    rm "$file.new"
    echo "$project: $(echo "$added" | wc -l) symbol(s) added to $file"
  fi
done
