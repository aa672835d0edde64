from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

import stockade.adapters.django


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello\n", content_type="text/plain")


urlpatterns = [
    path("", home),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("admin/stockade/", include(stockade.adapters.django.urls)),  # blocked users and bans
    path("admin/", admin.site.urls),
]
