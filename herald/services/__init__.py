"""Use cases shared by the REST API, the web UI and the CLI. No HTTP here.

One module per subject; the names below are the public ones, so that callers write
`services.create_posts(...)` whichever module holds it.
"""

from __future__ import annotations

from herald.services.accounts import (
    account_token,
    check_account,
    create_account,
    delete_account,
    get_account,
    list_accounts,
    update_account_settings,
    update_account_token,
)
from herald.services.approvals import approve_post, awaiting, reject_post
from herald.services.comments import add_comment, add_link_comment, delete_comment, thread
from herald.services.companies import (
    ApiCaller,
    authenticate,
    company_api_tokens,
    create_api_token,
    create_company,
    find_api_token,
    find_company,
    get_company,
    issue_api_token,
    list_api_tokens,
    list_companies,
    remove_company,
    revoke_api_token,
    revoke_company_token,
    update_company_settings,
)
from herald.services.context import Context, PostChecks
from herald.services.first_comments import retry_first_comment
from herald.services.imports import ImportReport, import_posts
from herald.services.members import add_member, list_members, remove_member, set_role
from herald.services.post_list import (
    SORTS,
    PostFilters,
    list_post_rows,
    list_posts,
    post_page,
    status_filter,
)
from herald.services.posts import (
    PAST_TOLERANCE,
    cancel_post,
    create_posts,
    get_post,
    inspect_media,
    post_detail,
    post_detail_out,
    retry_post,
    schedule_draft,
    update_post,
)
from herald.services.unit_of_work import QueueSignal, unit_of_work
from herald.services.uploads import Upload, spool_bounded, store_upload

__all__ = [
    "PAST_TOLERANCE",
    "SORTS",
    "ApiCaller",
    "Context",
    "ImportReport",
    "PostChecks",
    "PostFilters",
    "QueueSignal",
    "Upload",
    "account_token",
    "add_comment",
    "add_link_comment",
    "add_member",
    "approve_post",
    "authenticate",
    "awaiting",
    "cancel_post",
    "check_account",
    "company_api_tokens",
    "create_account",
    "create_api_token",
    "create_company",
    "create_posts",
    "delete_account",
    "delete_comment",
    "find_api_token",
    "find_company",
    "get_account",
    "get_company",
    "get_post",
    "import_posts",
    "inspect_media",
    "issue_api_token",
    "list_accounts",
    "list_api_tokens",
    "list_companies",
    "list_members",
    "list_post_rows",
    "list_posts",
    "post_detail",
    "post_detail_out",
    "post_page",
    "reject_post",
    "remove_company",
    "remove_member",
    "retry_first_comment",
    "retry_post",
    "revoke_api_token",
    "revoke_company_token",
    "schedule_draft",
    "set_role",
    "spool_bounded",
    "status_filter",
    "store_upload",
    "thread",
    "unit_of_work",
    "update_account_settings",
    "update_account_token",
    "update_company_settings",
    "update_post",
]
