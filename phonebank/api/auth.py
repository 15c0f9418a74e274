from ninja.security import HttpBearer

from phonebank.accounts.services import token_authenticate


class TokenAuth(HttpBearer):
    """`Authorization: Bearer pbt_...`: an active user's API token."""

    def authenticate(self, request, token):
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user
