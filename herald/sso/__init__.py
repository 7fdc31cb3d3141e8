"""Single sign-on: a company's OpenID Connect identity provider signs its people in."""
