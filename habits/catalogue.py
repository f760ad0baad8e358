"""Every sentence the coach says, in English, under a stable message id.

The engine names a message by its id and gives its values; each surface fills the text in,
spelling member text and command references its own way (``habits.messages``). Placeholders
are named (``{count}``, ``{title}``); a sentence whose words depend on a number is a
:class:`Plural`, chosen by one plural-aware call (:func:`ngettext`); days and times are
written by one function (:func:`format_date`). Another language is another catalogue with the
same ids: :data:`CATALOGUES` maps a locale to its texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


@dataclass(frozen=True)
class Plural:
    """A message in a singular and a plural form, chosen by the value named ``n``."""

    one: str
    other: str
    n: str = "count"


class Form(StrEnum):
    """A command a message refers to (an example, a hint, a button): each surface spells it, as
    typed (``/goal 1 post``) or as its slash command's options (``/goal count:1 label:post``)."""

    GOAL_SHOW = "goal_show"
    GOAL = "goal"
    GOAL_COUNT = "goal_count"
    GOAL_OFF = "goal_off"
    GOAL_REST = "goal_rest"
    GOAL_REST_WEEKS = "goal_rest_weeks"
    GOAL_REST_OFF = "goal_rest_off"
    GOAL_FREEZES = "goal_freezes"
    GOAL_WEEK = "goal_week"
    PUBLISHED = "published"
    PUBLISHED_LINK = "published_link"
    PUBLISHED_ON = "published_on"
    PUBLISHED_DAY = "published_day"
    PUBLISHED_UNDO = "published_undo"
    PUBLISHED_LIST = "published_list"
    PUBLISHED_REMOVE = "published_remove"
    PUBLISHED_AGAIN = "published_again"
    LINK = "link"  # a link on its own: what the *I published* form's link field takes
    STREAK = "streak"
    NUDGES_SHOW = "nudges_show"
    NUDGES_SCHEDULE = "nudges_schedule"
    NUDGES_PAUSE = "nudges_pause"
    NUDGES_PAUSE_UNTIL = "nudges_pause_until"
    NUDGES_RESUME = "nudges_resume"
    NUDGES_OFF = "nudges_off"
    NUDGES_SNOOZE = "nudges_snooze"
    NUDGES_SMALLER = "nudges_smaller"
    NUDGES_HEADS_UP = "nudges_heads_up"
    TIMEZONE_SHOW = "timezone_show"
    TIMEZONE = "timezone"
    TIMEZONE_ANY = "timezone_any"  # "/timezone Area/City": the form, with no zone chosen
    HABIT_HELP = "habit_help"
    HABIT_EXPORT = "habit_export"
    HABIT_FORGET = "habit_forget"
    HABIT_FORGET_CONFIRM = "habit_forget_confirm"
    HABIT_FORGET_CANCEL = "habit_forget_cancel"


# The commands as typed (the console, Slack, and what the grammar reads back).
TYPED: dict[Form, str] = {
    Form.GOAL_SHOW: "/goal",
    Form.GOAL: "/goal {count} {label}",
    Form.GOAL_COUNT: "/goal {count}",
    Form.GOAL_OFF: "/goal off",
    Form.GOAL_REST: "/goal rest",
    Form.GOAL_REST_WEEKS: "/goal rest {weeks}",
    Form.GOAL_REST_OFF: "/goal rest off",
    Form.GOAL_FREEZES: "/goal freezes {state}",
    Form.GOAL_WEEK: "/goal week {day}",
    Form.PUBLISHED: "/published",
    Form.PUBLISHED_LINK: "/published {url} {title}",
    Form.PUBLISHED_ON: "/published {day} {url} {title}",
    Form.PUBLISHED_DAY: "/published {day}",
    Form.PUBLISHED_UNDO: "/published undo",
    Form.PUBLISHED_LIST: "/published list",
    Form.PUBLISHED_REMOVE: "/published remove {number}",
    Form.PUBLISHED_AGAIN: "/published again {number}",
    Form.LINK: "{url}",
    Form.STREAK: "/streak",
    Form.NUDGES_SHOW: "/nudges",
    Form.NUDGES_SCHEDULE: "/nudges {days} at {time}",
    Form.NUDGES_PAUSE: "/nudges pause {span}",
    Form.NUDGES_PAUSE_UNTIL: "/nudges pause until {until}",
    Form.NUDGES_RESUME: "/nudges resume",
    Form.NUDGES_OFF: "/nudges off",
    Form.NUDGES_SNOOZE: "/nudges snooze {until}",
    Form.NUDGES_SMALLER: "/nudges smaller",
    Form.NUDGES_HEADS_UP: "/nudges heads-up {state}",
    Form.TIMEZONE_SHOW: "/timezone",
    Form.TIMEZONE: "/timezone {zone}",
    Form.TIMEZONE_ANY: "/timezone Area/City",
    Form.HABIT_HELP: "/habit help",
    Form.HABIT_EXPORT: "/habit export",
    Form.HABIT_FORGET: "/habit forget",
    Form.HABIT_FORGET_CONFIRM: "/habit forget confirm",
    Form.HABIT_FORGET_CANCEL: "/habit forget cancel",
}


class M(StrEnum):
    """Message ids. An id names what a sentence says; its English text is in :data:`ENGLISH`."""

    # Shared pieces
    EXAMPLE = "example"
    OOPS = "oops"
    NOT_SCHEDULED = "not_scheduled"
    TODAY = "today"
    ON_DAY = "on_day"
    QUOTED = "quoted"
    COUNTED = "counted"
    CONFIRM_BY_TYPING = "confirm_by_typing"
    DMS_REOPENED = "dms_reopened"
    # Progress this week
    PROGRESS_REST = "progress_rest"
    PROGRESS_REST_BONUS = "progress_rest_bonus"
    PROGRESS_NO_GOAL = "progress_no_goal"
    PROGRESS_MET = "progress_met"
    PROGRESS = "progress"
    DAYS_LEFT = "days_left"
    HOURS_LEFT = "hours_left"
    LESS_THAN_AN_HOUR_LEFT = "less_than_an_hour_left"
    # Schedule
    SCHEDULE = "schedule"
    NUDGES_NEED_GOAL = "nudges_need_goal"
    NUDGES_OFF_WOULD_BE = "nudges_off_would_be"
    NUDGES_UNREACHABLE = "nudges_unreachable"
    PAUSED_UNTIL = "paused_until"
    RESTING_UNTIL = "resting_until"
    WEEKLY_CHECKIN = "weekly_checkin"
    NUDGES_FIRST_DAY_ONLY = "nudges_first_day_only"
    NUDGES_NEXT = "nudges_next"
    EVERY_DAY = "every_day"
    WEEKDAYS = "weekdays"
    WEEKENDS = "weekends"
    # /goal
    NO_GOAL_YET = "no_goal_yet"
    YOUR_GOAL = "your_goal"
    GOAL_SET = "goal_set"
    START_NOW = "start_now"
    UTC_HINT = "utc_hint"
    NO_GOAL_TO_TURN_OFF = "no_goal_to_turn_off"
    GOAL_OFF = "goal_off"
    ALREADY_RESTING = "already_resting"
    REST_EXTENDED = "rest_extended"
    REST_AFTER_MET = "rest_after_met"
    REST_STARTED = "rest_started"
    REST_SAFE = "rest_safe"
    REST_SPAN = "rest_span"
    REST_THIS_WEEK = "rest_this_week"
    NOT_RESTING = "not_resting"
    REST_ENDED = "rest_ended"
    WEEK_START_SET = "week_start_set"
    FREEZES_ON = "freezes_on"
    FREEZES_OFF = "freezes_off"
    FREEZES_ON_OR_OFF = "freezes_on_or_off"
    # /published
    ALREADY_LOGGED_REQUEST = "already_logged_request"
    ALREADY_LOGGED_LINK = "already_logged_link"
    ALREADY_LOGGED_RACE = "already_logged_race"
    SAME_REQUEST = "same_request"
    EACH_LINK_ONCE = "each_link_once"
    LOG_AGAIN_QUESTION = "log_again_question"
    LOG_AGAIN_BUTTON = "log_again_button"
    DAY_IN_FUTURE = "day_in_future"
    DAY_TOO_FAR_BACK = "day_too_far_back"
    LOGGED = "logged"
    LOGGED_FOR = "logged_for"
    YOUR_PUBLICATION = "your_publication"
    NO_TITLE_PUBLICATION = "no_title_publication"
    STREAK_NOW = "streak_now"
    SET_GOAL_FOR_STREAK = "set_goal_for_streak"
    TITLE_SHORTENED = "title_shortened"
    LAST_WEEK = "last_week"
    WEEK_OF = "week_of"
    WEEK_RESULT = "week_result"
    WEEK_MET_STREAK_BACK = "week_met_streak_back"
    WEEK_MET = "week_met"
    WEEK_UNMET_STREAK = "week_unmet_streak"
    WEEK_UNMET = "week_unmet"
    NOTHING_LISTED = "nothing_listed"
    LIST_HEADING = "list_heading"
    LIST_ITEM = "list_item"
    LIST_ITEM_TWO = "list_item_two"
    LIST_NO_TITLE = "list_no_title"
    LIST_FOOTER = "list_footer"
    NOTHING_TO_REMOVE = "nothing_to_remove"
    NO_SUCH_NUMBER = "no_such_number"
    NUMBERS_ONE = "numbers_one"
    NUMBERS_RANGE = "numbers_range"
    TOO_OLD_TO_REMOVE = "too_old_to_remove"
    REMOVED = "removed"
    REPEAT_GONE = "repeat_gone"
    NOTHING_TO_UNDO = "nothing_to_undo"
    UNDO_CLOSED_WEEK = "undo_closed_week"
    # /streak
    STREAK_HEADING = "streak_heading"
    THIS_WEEK = "this_week"
    TOTAL_PUBLISHED = "total_published"
    FREEZES = "freezes"
    FREEZES_BANKED = "freezes_banked"
    RECENT_WEEKS = "recent_weeks"
    STREAK_FIELD = "streak_field"
    WEEK_RESTING = "week_resting"
    WEEK_NO_GOAL = "week_no_goal"
    WEEK_GOAL_MET = "week_goal_met"
    WEEK_PROGRESS = "week_progress"
    RECENT_MARKS = "recent_marks"
    LEGEND_ENTRY = "legend_entry"
    LEGEND_MET = "legend_met"
    LEGEND_MISSED = "legend_missed"
    LEGEND_REST = "legend_rest"
    LEGEND_IN_PROGRESS = "legend_in_progress"
    LEGEND_OFF = "legend_off"
    STREAK_TITLE = "streak_title"
    STREAK_FOOTER = "streak_footer"
    YEAR_TITLE = "year_title"
    YEAR_STATS = "year_stats"
    YEAR_ALT = "year_alt"
    YEAR_ALT_STREAK = "year_alt_streak"
    YEAR_ALT_TOTAL = "year_alt_total"
    LEGEND_FROZEN = "legend_frozen"
    YEAR_IN_PROGRESS = "year_in_progress"
    YEAR_HEATMAP = "year_heatmap"
    BUTTON_SHOW_YEAR = "button_show_year"
    # The *I published* form's own words.
    FORM_TITLE = "form_title"
    FORM_SUBMIT = "form_submit"
    FORM_CANCEL = "form_cancel"
    FORM_LINK = "form_link"
    FORM_LINK_OPTIONAL = "form_link_optional"
    FORM_LINK_HINT = "form_link_hint"
    FORM_LINK_PLACEHOLDER = "form_link_placeholder"
    FORM_TITLE_FIELD = "form_title_field"
    FORM_TITLE_OPTIONAL = "form_title_optional"
    FORM_TITLE_PLACEHOLDER = "form_title_placeholder"
    YEAR_FILE_TITLE = "year_file_title"
    YEAR_SENT = "year_sent"
    YEAR_NOT_SENT = "year_not_sent"
    # /nudges
    PICK_DATE_AFTER_TODAY = "pick_date_after_today"
    PAUSE_UP_TO_A_YEAR = "pause_up_to_a_year"
    PAUSED = "paused"
    RESUMED = "resumed"
    NUDGES_OFF = "nudges_off"
    NOTHING_TO_SNOOZE = "nothing_to_snooze"
    NO_MORE_NUDGES_TO_SNOOZE = "no_more_nudges_to_snooze"
    NO_RECENT_NUDGE = "no_recent_nudge"
    NO_RECENT_NUDGE_NEXT = "no_recent_nudge_next"
    SNOOZED = "snoozed"
    NO_STEP_TO_SHRINK = "no_step_to_shrink"
    MET_NOTHING_TO_DO = "met_nothing_to_do"
    REST_NO_STEPS = "rest_no_steps"
    SMALLER_STEP = "smaller_step"
    SMALLEST_STEP = "smallest_step"
    HEADS_UP_OFF = "heads_up_off"
    HEADS_UP_ON = "heads_up_on"
    HEADS_UP_ON_OR_OFF = "heads_up_on_or_off"
    # /timezone
    YOUR_ZONE = "your_zone"
    ZONE_SET = "zone_set"
    # /habit
    NOTHING_TO_EXPORT = "nothing_to_export"
    EXPORTED = "exported"
    NOTHING_TO_DELETE = "nothing_to_delete"
    KEPT = "kept"
    FORGET_ASK = "forget_ask"
    FORGET_YES = "forget_yes"
    FORGET_NO = "forget_no"
    FORGOTTEN = "forgotten"
    # Notices
    NUDGE_TITLE = "nudge_title"
    CHECKIN_TITLE = "checkin_title"
    HEADS_UP_TITLE = "heads_up_title"
    HEADS_UP_LEFT = "heads_up_left"
    HEADS_UP_STEP = "heads_up_step"
    HEADS_UP_FREEZES = "heads_up_freezes"
    HEADS_UP_NO_FREEZE = "heads_up_no_freeze"
    TINY_NEXT_STEP = "tiny_next_step"
    FIRST_TINY_STEP = "first_tiny_step"
    WELCOME_BACK = "welcome_back"
    LAST_WEEK_MET = "last_week_met"
    LAST_WEEK_MISSED = "last_week_missed"
    LAST_WEEK_COMEBACK = "last_week_comeback"
    LAST_WEEK_FROZEN = "last_week_frozen"
    LAST_WEEK_FROZEN_NO_STREAK = "last_week_frozen_no_streak"
    FREEZES_LEFT = "freezes_left"
    NO_FREEZES_LEFT = "no_freezes_left"
    MILESTONE_STREAK = "milestone_streak"
    MILESTONE_PUBLICATIONS = "milestone_publications"
    FREEZE_EARNED = "freeze_earned"
    SMALLER_GOAL_HINT = "smaller_goal_hint"
    SMALLER_GOAL_BUTTON = "smaller_goal_button"
    SMALLER_STILL = "smaller_still"
    BUTTON_PUBLISHED = "button_published"
    BUTTON_SNOOZE_LATER = "button_snooze_later"
    BUTTON_SNOOZE_TOMORROW = "button_snooze_tomorrow"
    BUTTON_SMALLER_STEP = "button_smaller_step"
    # The grammar's refusals
    TYPE_A_COMMAND = "type_a_command"
    UNKNOWN_COMMAND = "unknown_command"
    TAKES_NOTHING_AFTER = "takes_nothing_after"
    GOAL_NOT_A_NUMBER = "goal_not_a_number"
    GOAL_OUT_OF_RANGE = "goal_out_of_range"
    LABEL_TOO_LONG = "label_too_long"
    LABEL_NOT_A_LINK = "label_not_a_link"
    REST_WEEKS_RANGE = "rest_weeks_range"
    WEEK_START_DAYS = "week_start_days"
    NOT_A_CALENDAR_DATE = "not_a_calendar_date"
    TITLE_NEEDS_QUOTES = "title_needs_quotes"
    REMOVE_WHICH = "remove_which"
    LINK_FIRST = "link_first"
    LINK_TOO_LONG = "link_too_long"
    LINK_CREDENTIALS = "link_credentials"
    NOT_A_LINK = "not_a_link"
    NOT_A_DAY_FIELD = "not_a_day_field"
    SNOOZE_UNTIL = "snooze_until"
    NOT_A_DAY = "not_a_day"
    NOT_A_TIME = "not_a_time"
    PROBLEMS = "problems"
    WHICH_DAYS_AND_TIME = "which_days_and_time"
    HOW_LONG_PAUSE = "how_long_pause"
    PAUSE_DATE_UNREADABLE = "pause_date_unreadable"
    PAUSE_UNTIL_WHEN = "pause_until_when"
    NOT_A_DURATION = "not_a_duration"
    PAUSE_WEEKS_RANGE = "pause_weeks_range"
    PAUSE_DAYS_RANGE = "pause_days_range"
    ZONE_ABBREVIATION = "zone_abbreviation"
    ZONE_AMBIGUOUS = "zone_ambiguous"
    ZONE_OFFSET = "zone_offset"
    ZONE_OFFSET_PLACES = "zone_offset_places"
    ZONE_UNKNOWN = "zone_unknown"
    ZONE_HINTS = "zone_hints"
    OR_LIST = "or_list"
    UNKNOWN_HABIT = "unknown_habit"
    # Adapters' own refusals
    STALE_COMMAND = "stale_command"
    STALE_BUTTON = "stale_button"
    STALE_FORM = "stale_form"
    NOT_AN_OPTION_VALUE = "not_an_option_value"
    OPTION_WEEKS_WITH_REST = "option_weeks_with_rest"
    OPTION_LABEL_NEEDS_COUNT = "option_label_needs_count"
    OPTION_COUNT_OR_CHANGE = "option_count_or_change"
    OPTION_ONE_OF_UNDO_LIST_REMOVE = "option_one_of_undo_list_remove"
    OPTION_UNDO_LIST_REMOVE_ALONE = "option_undo_list_remove_alone"
    OPTION_PAUSE_FOR_WITH_PAUSE = "option_pause_for_with_pause"
    OPTION_DAYS_OR_CHANGE = "option_days_or_change"
    EXPORT_SENT_AS_FILE = "export_sent_as_file"
    EXPORT_NOT_SENT = "export_not_sent"
    EXPORT_FILE_TITLE = "export_file_title"
    EXPORT_FILE_COMMENT = "export_file_comment"
    CONSOLE_WELCOME = "console_welcome"
    CONSOLE_SAVED = "console_saved"
    CONSOLE_BYE = "console_bye"
    SLACK_NUDGE_TITLE = "slack_nudge_title"
    SLACK_CHECKIN_TITLE = "slack_checkin_title"
    SLACK_HEADS_UP_TITLE = "slack_heads_up_title"
    APP_NAME = "app_name"
    HOME_GOAL = "home_goal"
    HOME_NUDGES = "home_nudges"
    HOME_ZONE = "home_zone"
    HOME_HINT = "home_hint"
    STREAK_FIELD_VALUE = "streak_field_value"
    # Coaching copy: tiny next steps (by the step's id) and the check-in's encouragement
    STEP_BULLETS = "step_bullets"
    STEP_QUESTION = "step_question"
    STEP_HEADLINE = "step_headline"
    STEP_NOTES = "step_notes"
    STEP_OUTLINE = "step_outline"
    STEP_FIRST_LINE = "step_first_line"
    STEP_FIFTEEN = "step_fifteen"
    STEP_ONE_PARA = "step_one_para"
    STEP_VOICE = "step_voice"
    STEP_CUT = "step_cut"
    STEP_SHIP_SHORT = "step_ship_short"
    STEP_ONE_THING = "step_one_thing"
    STEP_REPOST = "step_repost"
    STEP_HIT_PUBLISH = "step_hit_publish"
    CHEER_CONSISTENCY = "cheer_consistency"
    CHEER_READ = "cheer_read"
    CHEER_BODY_OF_WORK = "cheer_body_of_work"
    CHEER_FRESH_START = "cheer_fresh_start"
    CHEER_NO_GUILT = "cheer_no_guilt"
    CHEER_DATA = "cheer_data"
    # The help
    HELP = "help"


ENGLISH: dict[M, str | Plural] = {
    M.EXAMPLE: "Example: {example}",
    M.OOPS: "Sorry — something went wrong on my side and nothing was changed. Please try again.",
    M.NOT_SCHEDULED: "not scheduled",
    M.TODAY: "today",
    M.ON_DAY: "on {day}",
    M.QUOTED: "“{text}”",
    M.COUNTED: "{count} {label}",
    M.CONFIRM_BY_TYPING: " ({command})",
    M.DMS_REOPENED: (
        "(I couldn't send you direct messages lately, so nudges stopped. "
        "If you've opened your DMs, they start again now.)"
    ),
    M.PROGRESS_REST: "This is a rest week — nothing to chase, enjoy the break.",
    M.PROGRESS_REST_BONUS: "This is a rest week, and you still published {published} — a bonus.",
    M.PROGRESS_NO_GOAL: "{published} logged this week.",
    M.PROGRESS_MET: "{count} of {target} this week — goal met! 🎉",
    M.PROGRESS: "{count} of {target} this week, {left}.",
    M.DAYS_LEFT: Plural("1 day left", "{count} days left"),
    M.HOURS_LEFT: Plural("1 hour left", "{count} hours left"),
    M.LESS_THAN_AN_HOUR_LEFT: "less than an hour left",
    M.SCHEDULE: "{days} at {time} ({zone})",
    M.NUDGES_NEED_GOAL: "Nudges: {schedule}, once you set a goal — try {goal}.",
    M.NUDGES_OFF_WOULD_BE: "Nudges are off (they'd be {schedule}). Turn them on with {resume}.",
    M.NUDGES_UNREACHABLE: "Nudges: {schedule}, but I couldn't reach you last time.",
    M.PAUSED_UNTIL: " Paused until {day}.",
    M.RESTING_UNTIL: " Resting until {day}.",
    M.WEEKLY_CHECKIN: " Weekly check-in: {when}.",
    M.NUDGES_FIRST_DAY_ONLY: (
        "Nudges: {schedule}.{paused} {first_day}'s message is the weekly check-in, "
        "with your first tiny step: {when}."
    ),
    M.NUDGES_NEXT: "Nudges: {schedule}.{paused} Next: {when}.{checkin}",
    M.EVERY_DAY: "every day",
    M.WEEKDAYS: "weekdays",
    M.WEEKENDS: "weekends",
    M.NO_GOAL_YET: "You have no weekly goal yet. Start small: {goal} — one post a week.",
    M.YOUR_GOAL: "Your goal: {goal} a week (weeks start on {first_day}, {zone}).",
    M.GOAL_SET: "Goal set: {goal} a week. {progress}",
    M.START_NOW: "Start small, start now: {step}",
    M.UTC_HINT: "Weeks and nudges follow UTC — not your zone? {timezone}",
    M.NO_GOAL_TO_TURN_OFF: "You have no goal to turn off. Set one with {goal}.",
    M.GOAL_OFF: (
        "Goal tracking is off and nudges have stopped. Your history is kept — "
        "come back any time with {goal}."
    ),
    M.ALREADY_RESTING: "You're already resting until {day} — nothing changed. {end} ends the rest "
    "early.",
    M.REST_EXTENDED: (
        "Your rest now runs until {until} (it was until {was}). No nudges until then, and {safe}"
    ),
    M.REST_AFTER_MET: (
        "This week is already met, so it stays met — your rest ({span}) starts next week. "
        "No nudges until {until}, and {safe}"
    ),
    M.REST_STARTED: "Rest {span} — enjoy it. No nudges until {until}, and {safe}",
    M.REST_SAFE: "your streak is safe: rest weeks neither break nor grow it.",
    M.REST_SPAN: Plural("1 week", "{count} weeks"),
    M.REST_THIS_WEEK: "this week",
    M.NOT_RESTING: "You're not resting right now, so there's no rest to end.",
    M.REST_ENDED: (
        "Rest ended — your weeks count as usual again; your streak is as it was. {progress}"
    ),
    M.WEEK_START_SET: "Your weeks now start on {first_day}. {progress}",
    M.FREEZES_ON: (
        "Streak freezes are on: every {weeks} met weeks in a row earn one (up to {most} banked), "
        "and a week you miss uses one to keep your streak. {banked}"
    ),
    M.FREEZES_OFF: (
        "Streak freezes are off: a week you miss counts as missed, and none are earned. Rest "
        "weeks still leave your streak alone; {on} brings freezes back."
    ),
    M.FREEZES_ON_OR_OFF: "Streak freezes can be turned on or off.",
    M.ALREADY_LOGGED_REQUEST: "Already logged — that was the same request again. {progress}",
    M.ALREADY_LOGGED_LINK: "You already logged {url} — each link counts once. {progress}",
    M.ALREADY_LOGGED_RACE: "Already logged — {what}. {progress}",
    M.SAME_REQUEST: "that was the same request again",
    M.EACH_LINK_ONCE: "each link counts once",
    M.LOG_AGAIN_QUESTION: "You logged “{title}” {on} already — log it again?",
    M.LOG_AGAIN_BUTTON: "Yes, log it again",
    M.DAY_IN_FUTURE: "{day} hasn't happened yet — log a publication once it's out.",
    M.DAY_TOO_FAR_BACK: (
        "{day} is more than {max_days} days back: I log publications from {earliest} on."
    ),
    M.LOGGED: "Logged {what}. {progress}",
    M.LOGGED_FOR: "Logged {what} for {day}. {progress}",
    M.YOUR_PUBLICATION: "your publication",
    M.NO_TITLE_PUBLICATION: "a publication without a title",
    M.STREAK_NOW: Plural(
        "Streak: {count} week. No more nudges this week — enjoy it.",
        "Streak: {count} weeks. No more nudges this week — enjoy it.",
    ),
    M.SET_GOAL_FOR_STREAK: "Set a weekly goal to start a streak: {goal}",
    M.TITLE_SHORTENED: "(The title was long, so I kept its first 200 characters.)",
    M.LAST_WEEK: "Last week",
    M.WEEK_OF: "The week of {day}",
    M.WEEK_RESULT: "{week}: {count} of {target}.",
    M.WEEK_MET_STREAK_BACK: Plural(
        "{week} is met now — your streak is back to {count} week.",
        "{week} is met now — your streak is back to {count} weeks.",
    ),
    M.WEEK_MET: "{week} is met now ({count} of {target}).",
    M.WEEK_UNMET_STREAK: Plural(
        "{week} is no longer met ({done} of {target}) — your streak is {count} week now.",
        "{week} is no longer met ({done} of {target}) — your streak is {count} weeks now.",
    ),
    M.WEEK_UNMET: "{week} is no longer met ({count} of {target}).",
    M.NOTHING_LISTED: "Nothing logged in the last few weeks. Log one with {example}",
    M.LIST_HEADING: "Your publications this week and the {weeks} weeks before:",
    M.LIST_ITEM: "{number}. {day} — {first}",
    M.LIST_ITEM_TWO: "{number}. {day} — {first} — {second}",
    M.LIST_NO_TITLE: "(no title)",
    M.LIST_FOOTER: (
        "Remove one with {remove} (up to {max_days} days back); log a past one with "
        "{backdate} (or mon, or YYYY-MM-DD) and its link."
    ),
    M.NOTHING_TO_REMOVE: "There's nothing to remove — nothing logged in the last few weeks.",
    M.NO_SUCH_NUMBER: "There's no number {number}: {list} shows {numbers}.",
    M.NUMBERS_ONE: "1",
    M.NUMBERS_RANGE: "1 to {last}",
    M.TOO_OLD_TO_REMOVE: "{what} is from {day}, more than {max_days} days back, so it stays.",
    M.REMOVED: "Removed {what} (logged {day}). {progress}",
    M.REPEAT_GONE: (
        "That publication isn't there any more, so I logged nothing. Log it anew with "
        "{published} and its title."
    ),
    M.NOTHING_TO_UNDO: "There's nothing to undo — no publications logged yet.",
    M.UNDO_CLOSED_WEEK: (
        "Your last publication, {what} (logged {day}), belongs to a week that has closed, so it "
        "stays. Undo works for this week's publications; {list} and {remove} take out an older "
        "one on purpose."
    ),
    M.STREAK_HEADING: Plural(
        "🔥 Streak: {count} week (longest: {longest})",
        "🔥 Streak: {count} weeks (longest: {longest})",
    ),
    M.THIS_WEEK: "This week",
    M.TOTAL_PUBLISHED: "Total published",
    M.FREEZES: "Freezes",
    M.FREEZES_BANKED: "❄️ {count} of {most} banked",
    M.RECENT_WEEKS: "Recent weeks",
    M.STREAK_FIELD: "{label}: {value}",
    M.WEEK_RESTING: "rest 💤",
    M.WEEK_NO_GOAL: "{published} (no goal set — {goal})",
    M.WEEK_GOAL_MET: "{count} of {target} — goal met! 🎉",
    M.WEEK_PROGRESS: "{count} of {target}, {left}",
    M.RECENT_MARKS: "{marks}  ({legend})",
    M.LEGEND_ENTRY: "{mark} {meaning}",
    M.LEGEND_MET: "met",
    M.LEGEND_MISSED: "missed",
    M.LEGEND_REST: "rest",
    M.LEGEND_IN_PROGRESS: "this week",
    M.LEGEND_OFF: "no goal",
    M.STREAK_TITLE: "Your writing streak",
    M.STREAK_FOOTER: "Start small, start now.",
    M.YEAR_TITLE: Plural("Your last {weeks} week", "Your last {weeks} weeks", n="weeks"),
    M.YEAR_STATS: Plural(
        "Streak {current} · longest {longest} · {total} publication",
        "Streak {current} · longest {longest} · {total} publications",
        n="total",
    ),
    M.YEAR_ALT: (
        "A picture of your last {weeks} weeks, one square a week: {met} met (darker the further "
        "over your goal), {missed} missed, {frozen} frozen, {rest} rest, {off} with no goal; "
        "this week: {this_week}. {streak}; {total}."
    ),
    M.YEAR_ALT_STREAK: Plural(
        "Current streak: {count} week, longest: {longest}",
        "Current streak: {count} weeks, longest: {longest}",
    ),
    M.YEAR_ALT_TOTAL: Plural("{count} publication in all", "{count} publications in all"),
    M.LEGEND_FROZEN: "frozen",
    M.YEAR_IN_PROGRESS: "in progress",
    M.YEAR_HEATMAP: "{cells}  ({legend})",
    M.BUTTON_SHOW_YEAR: "Show my year",
    M.FORM_TITLE: "I published!",
    M.FORM_SUBMIT: "Log it",
    M.FORM_CANCEL: "Cancel",
    M.FORM_LINK: "Link",
    M.FORM_LINK_OPTIONAL: "Link (optional)",
    M.FORM_LINK_HINT: "Where people can read it. Leave empty if it isn't online.",
    M.FORM_LINK_PLACEHOLDER: "https://example.com/my-post",
    M.FORM_TITLE_FIELD: "Title",
    M.FORM_TITLE_OPTIONAL: "Title (optional)",
    M.FORM_TITLE_PLACEHOLDER: "What did you publish?",
    M.YEAR_FILE_TITLE: "Your year of writing",
    M.YEAR_SENT: "I've sent the picture of your year to our direct messages.",
    M.YEAR_NOT_SENT: "I couldn't send the picture of your year just now. Try {command} again.",
    M.PICK_DATE_AFTER_TODAY: "Pick a date after today ({today}).",
    M.PAUSE_UP_TO_A_YEAR: "A pause can last up to a year.",
    M.PAUSED: "Nudges paused until {day}. {resume} brings them back sooner.",
    M.RESUMED: "Resumed. {schedule}",
    M.NUDGES_OFF: (
        "Nudges are off. Your goal and streak still count, and the weekly check-in still "
        "comes. {resume} turns them back on."
    ),
    M.NOTHING_TO_SNOOZE: "There's no nudge to snooze right now.",
    M.NO_MORE_NUDGES_TO_SNOOZE: "Nothing to snooze — no more nudges this week.",
    M.NO_RECENT_NUDGE: "Nothing to snooze: no nudge came lately, and none is planned this week.",
    M.NO_RECENT_NUDGE_NEXT: (
        "Nothing to snooze: no nudge came lately, and the next one is {next}, no sooner than "
        "{at}. Snooze pushes back a nudge you've just had."
    ),
    M.SNOOZED: "Snoozed — I'll nudge you again {at}.",
    M.NO_STEP_TO_SHRINK: "There's no goal yet, so no step to shrink. Start small: {goal}",
    M.MET_NOTHING_TO_DO: "Goal met this week — nothing to do but enjoy it. 🎉",
    M.REST_NO_STEPS: "It's a rest week — no steps needed. Enjoy the break.",
    M.SMALLER_STEP: "Even smaller: {step}",
    M.SMALLEST_STEP: "That's the smallest step there is — and small is fine: {step}",
    M.HEADS_UP_OFF: (
        "No more last-day heads-up. Your other nudges and the weekly check-in go on; {on} "
        "brings it back."
    ),
    M.HEADS_UP_ON: (
        "The heads-up is on: on your week's last day, if your goal is still open, one message "
        "at your nudge time with the smallest step that still counts."
    ),
    M.HEADS_UP_ON_OR_OFF: "The last-day heads-up can be turned on or off.",
    M.YOUR_ZONE: (
        "Your time zone is {zone} (it's {local} there). Change it with {any}, e.g. {example}."
    ),
    M.ZONE_SET: "Time zone set to {zone} — it's {local} there now.",
    M.NOTHING_TO_EXPORT: "I have no data about you yet — nothing to export.",
    M.EXPORTED: "Here is everything I store about you ({count} publications).",
    M.NOTHING_TO_DELETE: "I have no data about you — there's nothing to delete.",
    M.KEPT: "Kept — nothing was deleted.",
    M.FORGET_ASK: (
        "This deletes your goal, streak, publications and settings, for good. Are you sure?{typed}"
    ),
    M.FORGET_YES: "Yes, delete everything",
    M.FORGET_NO: "No, keep my data",
    M.FORGOTTEN: "Done — everything I stored about you is deleted. You can start fresh any time.",
    M.NUDGE_TITLE: "Nudge",
    M.CHECKIN_TITLE: "Weekly check-in",
    M.HEADS_UP_TITLE: "Heads-up: last day of your week",
    M.HEADS_UP_LEFT: "{left} to go for this week's goal ({count} of {target} so far) — today is "
    "the last day.",
    M.HEADS_UP_STEP: "The smallest step that still counts: {step}",
    M.HEADS_UP_FREEZES: Plural(
        "❄️ {count} streak freeze banked: if this week slips, it keeps your streak.",
        "❄️ {count} streak freezes banked: if this week slips, one keeps your streak.",
    ),
    M.HEADS_UP_NO_FREEZE: "No streak freeze banked yet, so this week counts.",
    M.TINY_NEXT_STEP: "Tiny next step: {step}",
    M.FIRST_TINY_STEP: "First tiny step: {step}",
    M.WELCOME_BACK: "Welcome back from your rest week.",
    M.LAST_WEEK_MET: Plural(
        "Last week: {done} of {target} — goal met! Streak: {count} week. {cheer}",
        "Last week: {done} of {target} — goal met! Streak: {count} weeks. {cheer}",
    ),
    M.LAST_WEEK_MISSED: "Last week: {done} of {target}. {cheer}",
    M.LAST_WEEK_COMEBACK: (
        "Last week: {done} of {target} — goal met, and you're back! A new streak starts here. "
        "{cheer}"
    ),
    M.LAST_WEEK_FROZEN: (
        "Last week: {done} of {target}. Your freeze kept your {count}-week streak — {left}."
    ),
    M.LAST_WEEK_FROZEN_NO_STREAK: "Last week: {done} of {target}. A freeze covered it — {left}.",
    M.FREEZES_LEFT: "{count} left",
    M.NO_FREEZES_LEFT: "none left",
    M.MILESTONE_STREAK: "🏅 {count} weeks in a row — a milestone. Take a moment to enjoy it.",
    M.MILESTONE_PUBLICATIONS: "🎉 {count} publications in all — that's a body of work.",
    M.FREEZE_EARNED: (
        "❄️ You earned a streak freeze ({count} of {most} banked): if a week slips, it keeps your "
        "streak."
    ),
    M.SMALLER_GOAL_HINT: "Would a smaller goal help? Try {goal} a week.",
    M.SMALLER_GOAL_BUTTON: "Make it {goal} a week",
    M.SMALLER_STILL: (
        "Make it smaller still: a 100-word {label} counts. Or take a breather with {rest}."
    ),
    M.BUTTON_PUBLISHED: "I published",
    M.BUTTON_SNOOZE_LATER: "Snooze: later today",
    M.BUTTON_SNOOZE_TOMORROW: "Snooze: tomorrow",
    M.BUTTON_SMALLER_STEP: "Smaller step",
    M.TYPE_A_COMMAND: "Type a command.",
    M.UNKNOWN_COMMAND: "I don't know “{typed}”. The commands are {known}.",
    M.TAKES_NOTHING_AFTER: "“{command}” takes nothing after it.",
    M.GOAL_NOT_A_NUMBER: (
        "The weekly goal is a number of publications from {low} to {high}, not “{typed}”. "
        "Start small: one a week is a great goal."
    ),
    M.GOAL_OUT_OF_RANGE: (
        "The weekly goal must be from {low} to {high} publications; “{typed}” is out of range. "
        "Start small: one a week is a great goal."
    ),
    M.LABEL_TOO_LONG: "Keep the label short: at most {limit} characters.",
    M.LABEL_NOT_A_LINK: "The label says what you publish, like “post” or “newsletter”.",
    M.REST_WEEKS_RANGE: "A rest is 1 to {high} weeks, counting this one; “{typed}” isn't one of "
    "those.",
    M.WEEK_START_DAYS: "A week can start on Monday or Sunday.",
    M.NOT_A_CALENDAR_DATE: (
        "“{typed}” isn't a date on the calendar. Name the day as yesterday, a weekday (mon, tue…) "
        "or YYYY-MM-DD, up to {max_days} days back."
    ),
    M.TITLE_NEEDS_QUOTES: (
        "“{command}” takes nothing after it. A title that starts with “{typed}” goes in quotes."
    ),
    M.REMOVE_WHICH: (
        "Which one? {list} shows your recent publications, numbered; remove one by its number. "
        "A title that starts with “remove” goes in quotes."
    ),
    M.LINK_FIRST: "Put the link first, then the title: words before a link aren't a title.",
    M.LINK_TOO_LONG: (
        "That link is too long: I keep links of up to {limit} characters (bytes). "
        "Share a shorter link, or leave the link out."
    ),
    M.LINK_CREDENTIALS: (
        "Links with a username or password aren't accepted; share the public link, or leave the "
        "link out."
    ),
    M.NOT_A_LINK: (
        "“{typed}” doesn't look like a web link. Links start with http:// or https://; you can "
        "also leave the link out."
    ),
    M.NOT_A_DAY_FIELD: (
        "“{typed}” isn't a day I can read. Name it as today, yesterday, a weekday (mon, tue…) or "
        "YYYY-MM-DD, up to {max_days} days back."
    ),
    M.SNOOZE_UNTIL: "Snooze until “later” (today) or “tomorrow”.",
    M.NOT_A_DAY: (
        "“{typed}” isn't a day: use mon tue wed thu fri sat sun, weekdays, weekends or daily."
    ),
    M.NOT_A_TIME: ("“{typed}” isn't a time of day: use 24-hour 18:30 or 12-hour 9am / 6:30pm."),
    M.PROBLEMS: "{first} {second}",
    M.WHICH_DAYS_AND_TIME: "Tell me which days and what time to nudge you.",
    M.HOW_LONG_PAUSE: (
        "How long should I pause? Give a number of weeks (2w) or a date (until YYYY-MM-DD)."
    ),
    M.PAUSE_DATE_UNREADABLE: "“{typed}” isn't a date I can read; use YYYY-MM-DD.",
    M.PAUSE_UNTIL_WHEN: "Until when? Add the date nudges start again, as YYYY-MM-DD.",
    M.NOT_A_DURATION: "“{typed}” isn't a length of time like 2w or 10 days.",
    M.PAUSE_WEEKS_RANGE: "A pause is 1 to 52 weeks.",
    M.PAUSE_DAYS_RANGE: "A pause is 1 to 365 days.",
    M.ZONE_ABBREVIATION: "“{typed}” is an abbreviation, not a place — did you mean {place}?",
    M.ZONE_AMBIGUOUS: (
        "“{typed}” is used by several time zones, so I won't guess — did you mean {places}? "
        "Set the place you live in."
    ),
    M.ZONE_OFFSET: (
        "“{typed}” is a fixed offset, which ignores daylight saving: your nudges would drift by "
        "an hour when clocks change. Set the place you live in."
    ),
    M.ZONE_OFFSET_PLACES: (
        "“{typed}” is a fixed offset, which ignores daylight saving: your nudges would drift by "
        "an hour when clocks change. Set the place you live in — did you mean {places}?"
    ),
    M.ZONE_UNKNOWN: (
        "I don't know the time zone “{typed}”.{hints} Use an IANA name: Area/City, like "
        "Europe/Berlin or America/New_York."
    ),
    M.ZONE_HINTS: " Did you mean {hints}?",
    M.OR_LIST: "{first} or {last}",
    M.UNKNOWN_HABIT: "“/habit {typed}” isn't something I know. Try help, export or forget.",
    M.STALE_COMMAND: "That command is out of date. Type / to see the current ones.",
    M.STALE_BUTTON: (
        "That button is out of date: it comes from an older message. Type / to see the commands."
    ),
    M.STALE_FORM: "That form is out of date, so nothing was stored. Type / to see the commands.",
    M.NOT_AN_OPTION_VALUE: "“{typed}” isn't one of the values that option takes.",
    M.EXPORT_SENT_AS_FILE: "{exported} I've sent it to our direct messages as a file.",
    M.EXPORT_NOT_SENT: (
        "Sorry — I couldn't send you the export file just now. Please try {command} again in a "
        "minute."
    ),
    M.EXPORT_FILE_TITLE: "Your Habit Coach data",
    M.EXPORT_FILE_COMMENT: "Everything I store about you, as JSON.",
    M.CONSOLE_WELCOME: (
        "Habit Coach console — you are “{name}”. Type {help} for every command, quit (or Ctrl-D) "
        "to leave."
    ),
    M.CONSOLE_SAVED: "Saved to {path}",
    M.CONSOLE_BYE: "Bye — start small, start now.",
    M.SLACK_NUDGE_TITLE: "A tiny nudge",
    M.SLACK_CHECKIN_TITLE: "Your weekly check-in",
    M.SLACK_HEADS_UP_TITLE: "Last day of your week",
    M.APP_NAME: "Habit Coach",
    M.HOME_GOAL: "Goal",
    M.HOME_NUDGES: "Nudges",
    M.HOME_ZONE: "Time zone",
    M.HOME_HINT: (
        "Change anything with a command: {goal}, {nudges}, {timezone}. Every command: {help}."
    ),
    M.STREAK_FIELD_VALUE: "{value}",
    M.OPTION_WEEKS_WITH_REST: "“weeks” goes with change: rest.",
    M.OPTION_LABEL_NEEDS_COUNT: (
        "A label goes with a count: how many a week? Start small: one a week is a great goal."
    ),
    M.OPTION_COUNT_OR_CHANGE: "Pick either a count (and label) or change: {change}, not both.",
    M.OPTION_ONE_OF_UNDO_LIST_REMOVE: "Pick one of undo, list and remove.",
    M.OPTION_UNDO_LIST_REMOVE_ALONE: "Undo, list and remove take no link, title or day.",
    M.OPTION_PAUSE_FOR_WITH_PAUSE: "“pause_for” goes with change: pause.",
    M.OPTION_DAYS_OR_CHANGE: "Pick either days and time or change: {change}, not both.",
    M.STEP_BULLETS: "Jot three bullet points for your next {label}.",
    M.STEP_QUESTION: "Write down one question a reader asked you lately.",
    M.STEP_HEADLINE: "Draft five possible headlines and circle the best one.",
    M.STEP_NOTES: "Open your notes and pick the idea you keep coming back to.",
    M.STEP_OUTLINE: "Sketch a three-line outline: opening, point, close.",
    M.STEP_FIRST_LINE: "Write just the first sentence.",
    M.STEP_FIFTEEN: "Set a 15-minute timer and write the messy middle.",
    M.STEP_ONE_PARA: "Write one paragraph — only one.",
    M.STEP_VOICE: "Say your main point out loud, then type what you said.",
    M.STEP_CUT: "Cut the draft down to the one idea that matters most.",
    M.STEP_SHIP_SHORT: "Publish the short version — done beats perfect.",
    M.STEP_ONE_THING: "Share one thing you learned this week, in three sentences.",
    M.STEP_REPOST: "Polish a note or thread you already wrote and publish it.",
    M.STEP_HIT_PUBLISH: "Give it a title, hit publish, tell one person.",
    M.CHEER_CONSISTENCY: "Consistency beats intensity — and you just proved it.",
    M.CHEER_READ: "Someone out there read you this week. Keep showing up.",
    M.CHEER_BODY_OF_WORK: "That is how a body of work gets built: one week at a time.",
    M.CHEER_FRESH_START: "Weeks like this happen to every writer. This one is a fresh start.",
    M.CHEER_NO_GUILT: "No guilt, just the next small step. You've got this.",
    M.CHEER_DATA: "Missing a week is data, not a verdict. Start small, start now.",
    M.HELP: """\
Habit Coach — start small, start now. Set a modest weekly goal, log what you publish, and I'll
nudge you with one tiny next step at your own local time.

/goal — show your goal · /goal 1 post — set N a week (1–21) · /goal off
/goal rest [N weeks] — a break that leaves your streak alone · /goal rest off — end it early
/goal week sunday — weeks start on Sunday (or monday)
/goal freezes off|on — earned streak freezes: one per 4 met weeks in a row, up to 2
/published [link] [title] — log a publication now · /published undo — undo the last one
/published yesterday [link] [title] — or mon, or YYYY-MM-DD: up to 14 days back
/published list — your recent publications, numbered · /published remove 2 — remove one
/streak — your streak card and a picture of your year
/nudges — show the schedule · /nudges mon thu at 9:00 · /nudges weekdays at 18:30
/nudges pause 2w · /nudges pause until {until} · /nudges resume · /nudges off
/nudges snooze later|tomorrow · /nudges smaller — an even smaller next step
/nudges heads-up off|on — the last day's heads-up while your goal is open
/timezone — show · /timezone Europe/Berlin — set your IANA time zone
/habit help · /habit export — all your data as JSON · /habit forget — delete it all""",
}

CATALOGUES: dict[str, dict[M, str | Plural]] = {"en": ENGLISH}
DEFAULT_LOCALE = "en"


def ngettext(singular: str, plural: str, n: int, locale: str = DEFAULT_LOCALE) -> str:
    """The form of a message for ``n`` (English: one and other; CLDR rules per locale later)."""
    return singular if n == 1 else plural


def template(message: M, values: Mapping[str, object], locale: str = DEFAULT_LOCALE) -> str:
    """The text of ``message`` in ``locale`` with its placeholders still to fill; a plural
    message picks its form by the value its ``n`` names."""
    entry = CATALOGUES.get(locale, ENGLISH).get(message) or ENGLISH[message]
    if isinstance(entry, Plural):
        count = values[entry.n]
        assert isinstance(count, int), f"{message}: {entry.n} must be a count"
        return ngettext(entry.one, entry.other, count, locale)
    return entry


class DateStyle(StrEnum):
    DAY = "day"  # Mon 07 Dec (with the year when it is not this year's)
    DAY_TIME = "day_time"  # Mon 07 Dec 09:00
    WEEKDAY_TIME = "weekday_time"  # Mon 09:00
    ISO = "iso"  # 2026-12-07, as commands take it


_WEEKDAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
}


def format_date(
    value: date | datetime,
    style: DateStyle,
    this_year: int | None = None,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """The one way the coach writes a day or a time (a datetime already in the member's zone).

    ``this_year``: the year a date leaves out. Names come from the locale's tables rather than
    ``strftime``, which follows the process's C locale.
    """
    if style is DateStyle.ISO:
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    weekday = _WEEKDAYS.get(locale, _WEEKDAYS["en"])[value.weekday()]
    clock = f"{value.hour:02d}:{value.minute:02d}" if isinstance(value, datetime) else ""
    if style is DateStyle.WEEKDAY_TIME:
        return f"{weekday} {clock}"
    month = _MONTHS.get(locale, _MONTHS["en"])[value.month - 1]
    shown = f"{weekday} {value.day:02d} {month}"
    if value.year != this_year:
        shown = f"{shown} {value.year}"
    return f"{shown} {clock}" if style is DateStyle.DAY_TIME else shown
