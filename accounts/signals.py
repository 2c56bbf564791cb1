"""Reactions to changes of a user account."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from accounts.models import OrgUnit, User
from accounts.scoping import bump_tree_version


@receiver(pre_save, sender=User, dispatch_uid="accounts.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender, instance: User, raw: bool = False, update_fields=None, **kwargs):
    """A new password revokes the user's API tokens, whatever path set it.

    The password change page, the admin, `changepassword` and a service all
    end in a save of the hash; comparing it with the stored one catches them
    all (a queryset `update` bypasses saves and is not used for passwords).
    A hasher upgrade at login also changes the hash and rotates the token too,
    which errs on the safe side.
    """
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. last_login at every sign-in: no query
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        Token.objects.filter(user_id=instance.pk).delete()


@receiver(post_save, sender=OrgUnit, dispatch_uid="accounts.bump_tree_version_on_save")
@receiver(post_delete, sender=OrgUnit, dispatch_uid="accounts.bump_tree_version_on_delete")
def bump_tree_version_on_unit_change(sender, **kwargs):
    """Every cached subtree (accounts.scoping) is stale once a unit changes."""
    bump_tree_version()
