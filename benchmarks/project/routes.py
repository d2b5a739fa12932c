"""URLconfs for the routing-scale scenario: the async target last after 10 or 1,000 patterns.

The 1,000 patterns look like a grown project's: flat pages, 30 apps with CRUD routes under
``include()`` (converters and ``re_path`` regexes), an admin-like block, user catch-alls
starting with a converter (tried for every path), and a versioned API whose ``api/v1/`` and
``api/v2/`` share their first segment with the target, ``api/v2/widgets/<int:pk>/``.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path

from . import views

Patterns = list[URLPattern | URLResolver]

TARGET_PATH = "/api/v2/widgets/42/"

PAGES = [
    "about",
    "contact",
    "pricing",
    "terms",
    "privacy",
    "login",
    "logout",
    "signup",
    "careers",
    "press",
    "security",
    "status",
    "jobs",
    "partners",
    "blog-feed",
    "sitemap",
    "robots",
    "humans",
    "faq",
    "support",
]
APPS = [
    "blog",
    "shop",
    "accounts",
    "forum",
    "wiki",
    "events",
    "news",
    "docs",
    "media",
    "billing",
    "orders",
    "inventory",
    "reports",
    "search",
    "teams",
    "projects",
    "tasks",
    "calendar",
    "messages",
    "notifications",
    "files",
    "gallery",
    "polls",
    "surveys",
    "tickets",
    "invoices",
    "subscriptions",
    "coupons",
    "reviews",
    "feeds",
]
RESOURCES = [
    "users",
    "groups",
    "orders",
    "items",
    "products",
    "carts",
    "payments",
    "refunds",
    "invoices",
    "customers",
    "addresses",
    "shipments",
    "returns",
    "reviews",
    "ratings",
    "coupons",
    "tags",
    "categories",
    "brands",
    "stores",
    "regions",
    "taxes",
    "currencies",
    "webhooks",
    "tokens",
    "sessions",
    "devices",
    "events",
    "logs",
]


def _crud(resource: str) -> Patterns:
    """Five routes a resource typically has: list, detail, edit, history (regex), new."""
    return [
        path(f"{resource}/", views.other, name=f"{resource}-list"),
        path(f"{resource}/new/", views.other, name=f"{resource}-new"),
        path(f"{resource}/<int:pk>/edit/", views.other, name=f"{resource}-edit"),
        re_path(rf"^{resource}/(?P<slug>[-\w]+)/history/$", views.other, name=f"{resource}-hist"),
        path(f"{resource}/<int:pk>/", views.other, name=f"{resource}-detail"),
    ]


def _admin(models: int) -> Patterns:
    patterns: Patterns = [path("", views.other, name="index")]
    for number in range(models):
        model = f"app{number % 5}/model{number}"
        patterns += [
            path(f"{model}/", views.other),
            path(f"{model}/add/", views.other),
            path(f"{model}/<path:object_id>/history/", views.other),
            path(f"{model}/<path:object_id>/delete/", views.other),
            path(f"{model}/<path:object_id>/change/", views.other),
            re_path(rf"^{model}/(?P<object_id>.+)/$", views.other),
        ]
    return patterns


def _catch_alls() -> Patterns:
    return [
        path("<slug:user>/", views.other, name="profile"),
        path("<slug:user>/followers/", views.other),
        path("<slug:user>/following/", views.other),
        path("<slug:user>/<slug:repo>/", views.other, name="repo"),
        path("<slug:user>/<slug:repo>/issues/", views.other),
        path("<slug:user>/<slug:repo>/issues/<int:number>/", views.other),
        path("<slug:user>/<slug:repo>/pull/<int:number>/", views.other),
        path("<slug:user>/<slug:repo>/blob/<str:ref>/<path:file>", views.other),
        re_path(
            r"^(?P<user>[-\w]+)/(?P<repo>[-\w]+)/commit/(?P<sha>[0-9a-f]{7,40})/$", views.other
        ),
        re_path(r"^(?P<user>[-\w]+)/(?P<repo>[-\w]+)/releases/(?P<tag>.+)$", views.other),
    ]


def _api(v1_resources: int, v2_patterns: int) -> Patterns:
    v1: Patterns = [p for resource in RESOURCES[:v1_resources] for p in _crud(resource)]
    v2: Patterns = [p for resource in RESOURCES for p in _crud(resource)]
    v2 = v2[: v2_patterns - 3]
    v2 += [
        path("widgets/", views.other, name="widget-list"),
        path("widgets/new/", views.other, name="widget-new"),
        path("widgets/<int:pk>/", views.widget, name="widget"),  # the target, last
    ]
    return [
        path("v1/", include((v1, "v1"))),
        path("v2/", include((v2, "v2"))),
    ]


def build(size: int) -> Patterns:
    """A URLconf of exactly ``size`` patterns (10 or 1,000) ending with the async target."""
    if size == 10:
        return [
            path("about/", views.other),
            path("contact/", views.other),
            path("blog/", include([path("", views.other), path("<int:pk>/", views.other)])),
            re_path(r"^shop/(?P<slug>[-\w]+)/$", views.other),
            path("<slug:user>/", views.other),
            path("api/", include(_api(0, 4))),
        ]
    if size != 1000:
        raise ValueError(f"size must be 10 or 1000, got {size!r}")
    patterns: Patterns = [path(f"{page}/", views.other) for page in PAGES]
    for number, app in enumerate(APPS):
        own = [p for resource in RESOURCES[number % 7 : number % 7 + 4] for p in _crud(resource)]
        patterns.append(path(f"{app}/", include((own, app))))
    patterns.append(path("admin/", include((_admin(17), "admin"))))
    patterns += _catch_alls()
    # 20 pages + 30 apps x 20 + admin 103 + 10 catch-alls = 733; the API takes the rest.
    patterns.append(path("api/", include(_api(25, 1000 - 733 - 125))))
    return patterns


def count(patterns: Patterns) -> int:
    """How many leaf patterns a URLconf holds (what ``size`` means)."""
    total = 0
    for entry in patterns:
        if isinstance(entry, URLResolver):
            total += count(entry.url_patterns)
        else:
            total += 1
    return total
