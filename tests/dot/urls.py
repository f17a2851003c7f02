# Django OAuth Toolkit mounted at the root, so the issuer is http://127.0.0.1:PORT and the
# endpoints are /authorize/, /token/, /revoke_token/, /device-authorization/, /userinfo/,
# /.well-known/openid-configuration and (RFC 8414) /.well-known/oauth-authorization-server.
from django.contrib.auth import views as auth_views
from django.urls import include, path

import dot_test

urlpatterns = [
    path("", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("show-code", dot_test.show_code),
    path("__test/counters", dot_test.counters),
    path("__test/reset", dot_test.reset),
    path("__test/device-pkce", dot_test.device_pkce),
]
