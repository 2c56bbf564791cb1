"""The scoping gate for API views (ARCHITECTURE rule 1)."""


class ScopedQuerysetMixin:
    """The view's queryset goes through the model's `visible_to(user)`: an object out of scope is 404."""

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)
