"""Use cases of the member's rights over their data: a copy of everything (/habit export) and
deleting everything (/habit forget), the adapters' records about them included."""

from __future__ import annotations

from typing import Any

from habits import commands as c
from habits import export
from habits.catalogue import Form, M
from habits.context import CommandContext, UseCase
from habits.messages import Action, ActionId, Attachment, CommandRef, Reply, Say, say


def adapter_records(ctx: CommandContext) -> list[dict[str, object]]:
    """What the adapters keep that names the member (say, the Slack app they installed)."""
    hooks = ctx.member_records
    return [record for hook in hooks for record in hook.export(ctx.ref, ctx.uow.records)]


def export_data(ctx: CommandContext, command: c.Export) -> Reply:
    member = ctx.existing()
    records = adapter_records(ctx)
    if (member is None or member.id is None) and not records:
        return Reply.of(say(M.NOTHING_TO_EXPORT))
    data: dict[str, Any] = {"member": None, "publications": []}
    if member is not None:
        data = export.member_data(ctx.uow, member, ctx.member_id(member), ctx.weeks(member))
    data["adapter_records"] = records
    return Reply(
        (say(M.EXPORTED, count=len(data["publications"])),),
        attachment=Attachment(export.FILE_NAME, export.document(data)),
    )


def forget(ctx: CommandContext, command: c.Forget) -> Reply:
    member = ctx.existing()
    # Also for a "keep" clicked after a "delete" went through.
    if member is None and not adapter_records(ctx):
        return Reply.of(say(M.NOTHING_TO_DELETE))
    if command.cancelled:
        return Reply.of(say(M.KEPT))
    if not command.confirmed:
        confirm = CommandRef.to(Form.HABIT_FORGET_CONFIRM)
        # The typed confirmation only where no button does it.
        typed = Say(M.CONFIRM_BY_TYPING, (("command", confirm),), typed_only=True)
        cancel = CommandRef.to(Form.HABIT_FORGET_CANCEL)
        return Reply.of(
            say(M.FORGET_ASK, typed=typed),
            actions=(
                Action(ActionId.FORGET_CONFIRM, say(M.FORGET_YES), confirm),
                Action(ActionId.FORGET_CANCEL, say(M.FORGET_NO), cancel),
            ),
        )
    # In this unit of work: the member's rows and the records naming them go together.
    for hook in ctx.member_records:
        hook.forget(ctx.ref, ctx.uow.records, ctx.now)
    if member is not None:
        ctx.uow.members.delete(member)
    ctx.forgotten()
    return Reply.of(say(M.FORGOTTEN))


USE_CASES: dict[type, UseCase] = {c.Export: export_data, c.Forget: forget}
