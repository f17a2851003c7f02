#!/usr/bin/env python3
"""Browser stand-in for the Django OAuth Toolkit test provider (what tests/idp/browser.js is for
tests/idp): follows redirects with a cookie jar, signs in and answers the consent and device pages
by submitting their HTML forms. Standard library only; no JavaScript.

  browser.py login  <authorize-url> [--user alice] [--password wonderland] [--deny] [--print | --follow]
  browser.py device <verification_uri_complete | verification_uri> [--user-code CODE] [--user U] [--password P] [--deny]

login --print (default): prints the final redirect to the client's redirect_uri on one line,
  without fetching it; --follow fetches it and prints the HTTP status on line 1, then the body.
  --deny presses Cancel on the consent page (Django OAuth Toolkit then redirects with
  error=access_denied and, unlike its answers with a code, without `iss`).
device: prints "approved" (or "denied" with --deny) once the provider shows the device's status.
Anything unexpected (a wrong password, an error page): a message on stderr and exit 1.
"""
import argparse
import http.cookiejar
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser


def die(message):
    sys.stderr.write(f"browser.py: {message}\n")
    sys.exit(1)


class Forms(HTMLParser):
    """The forms of a page: action, method, and the controls each would submit."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.forms, self.text = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                               "id": a.get("id", ""), "inputs": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))
            else:
                self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))

    def handle_data(self, data):
        self.text.append(data)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, opts):
        self.opts = opts
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def fetch(self, url, form=None):
        """One request, no redirect followed: (status, Location or None, body)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data)
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, None, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as answer:
            body = answer.read().decode("utf-8", "replace")
            location = answer.headers.get("Location")
            if 300 <= answer.code < 400 and location:
                return answer.code, urllib.parse.urljoin(url, location), body
            die(f"HTTP {answer.code} from {url}: {body[:500]}")
        except urllib.error.URLError as e:
            die(f"cannot fetch {url}: {e.reason}")

    def sign_in(self, url, form):
        fields = dict(form["inputs"])
        fields.update(username=self.opts.user, password=self.opts.password)
        return urllib.parse.urljoin(url, form["action"]), fields

    def run(self, url, done):
        """Follows redirects and answers pages until `done(url)` says a redirect is the end."""
        form = None
        for _ in range(30):
            status, location, body = self.fetch(url, form)
            form = None
            if location:
                if done(location):
                    return location
                url = location
                continue
            page = Forms(body)
            result = self.answer(url, page)
            if result is None:
                return url
            url, form = result
        die("too many pages")

    def answer(self, url, page):
        """The form to submit on this page, as (url, fields), or None at the end of a flow."""
        for form in page.forms:
            if "password" in form["inputs"]:
                if getattr(self, "signed_in", False):
                    die(f"sign-in refused for {self.opts.user!r}")
                self.signed_in = True
                return self.sign_in(url, form)
            if form["id"] == "authorizationForm":
                fields = dict(form["inputs"])
                if not self.opts.deny:
                    fields["allow"] = "Authorize"
                return urllib.parse.urljoin(url, form["action"]), fields
            if "user_code" in form["inputs"]:
                fields = dict(form["inputs"])
                code = self.opts.user_code or fields["user_code"]
                if not code:
                    die("the device page asks for a user code: pass --user-code")
                fields["user_code"] = code
                return urllib.parse.urljoin(url, form["action"]), fields
            if ("action", "accept") in form["buttons"]:
                fields = dict(form["inputs"])
                fields["action"] = "deny" if self.opts.deny else "accept"
                return urllib.parse.urljoin(url, form["action"]), fields
        text = " ".join(" ".join(page.text).split())
        if "/device-grant-status/" in url:
            print("denied" if self.opts.deny else "approved")
            if ("Denied" if self.opts.deny else "Authorized") not in text:
                die(f"the device status page says: {text[:300]}")
            return None
        die(f"unexpected page at {url}: {text[:500]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["login", "device"])
    parser.add_argument("url")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="wonderland")
    parser.add_argument("--user-code")
    parser.add_argument("--deny", action="store_true")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", dest="follow", action="store_false")
    mode.add_argument("--follow", action="store_true")
    parser.set_defaults(follow=False)
    opts = parser.parse_args()
    browser = Browser(opts)

    if opts.command == "device":
        browser.run(opts.url, lambda location: False)
        return
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(opts.url).query))
    redirect_uri = query.get("redirect_uri") or die("the authorize URL has no redirect_uri")
    final = browser.run(opts.url, lambda location: location.split("?")[0] == redirect_uri)
    if not opts.follow:
        print(final)
        return
    try:
        with urllib.request.urlopen(final, timeout=20) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as answer:
        status, body = answer.code, answer.read()
    print(status)
    sys.stdout.write(body.decode("utf-8", "replace"))


if __name__ == "__main__":
    main()
