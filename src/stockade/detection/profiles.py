"""Site profiles: the paths common applications serve, so that probe rules never count them.

Behind ``stockade serve`` the application's routes are unknown; a profile names the paths
an application of that kind really serves (its assets, its admin, its APIs). For a path a
profile owns, probe rules are skipped as for a known route; injection rules still apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    """An application's own paths: prefixes on segment boundaries and exact files."""

    name: str
    description: str
    prefixes: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    pattern: str = ""

    def owns(self, path: str) -> bool:
        lowered = path.lower()
        if lowered in self.files:
            return True
        for prefix in self.prefixes:
            if lowered.startswith(prefix) and (len(lowered) == len(prefix) or prefix.endswith("/")):
                return True
        return bool(self.pattern) and re.search(self.pattern, lowered) is not None


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "wordpress",
            "WordPress: wp-admin, wp-login.php, wp-content and wp-includes, xmlrpc.php, wp-json, wp-cron.php.",
            prefixes=("/wp-admin/", "/wp-content/", "/wp-includes/", "/wp-json/"),
            files=(
                "/wp-admin",
                "/wp-login.php",
                "/xmlrpc.php",
                "/wp-cron.php",
                "/wp-comments-post.php",
                "/wp-signup.php",
                "/wp-activate.php",
                "/wp-trackback.php",
                "/wp-links-opml.php",
                "/wp-mail.php",
                "/index.php",
            ),
        ),
        Profile(
            "nextcloud",
            "Nextcloud and ownCloud: remote.php (WebDAV), ocs, index.php/apps, status.php, core and apps assets.",
            prefixes=(
                "/remote.php/",
                "/public.php/",
                "/ocs/",
                "/ocs-provider/",
                "/ocm-provider/",
                "/index.php/",
                "/apps/",
                "/core/",
                "/dist/",
                "/custom_apps/",
                "/themes/",
                "/updater/",
                "/.well-known/",
            ),
            files=("/remote.php", "/public.php", "/status.php", "/index.php", "/cron.php", "/robots.txt"),
        ),
        Profile(
            "drupal",
            "Drupal: core, modules, themes, sites/default/files, user, node, admin, update.php, cron.php.",
            prefixes=(
                "/core/",
                "/modules/",
                "/themes/",
                "/profiles/",
                "/libraries/",
                "/sites/default/files/",
                "/admin/",
            ),
            files=("/update.php", "/cron.php", "/index.php", "/user/login", "/user/register", "/user/password"),
        ),
        Profile(
            "django",
            "Django: the admin site and its static files.",
            prefixes=("/admin/", "/static/admin/"),
            files=("/admin",),
        ),
        Profile(
            "joomla",
            "Joomla: administrator, components, modules, plugins, templates, media.",
            prefixes=("/administrator/", "/components/", "/modules/", "/plugins/", "/templates/", "/media/"),
            files=("/index.php", "/administrator"),
        ),
        Profile(
            "php",
            "Any PHP site: its .php pages are its own (probe rules for script names are skipped).",
            pattern=r"\.php$",
        ),
    )
}
