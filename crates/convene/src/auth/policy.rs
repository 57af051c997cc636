//! Who may do what: the rules of the roles in one place, used by the API handlers and the
//! live room. The extractors (`Caller`, `Manager`) say who is calling; these functions
//! say what that caller may do with a given room.
//!
//! | role | rooms it sees | rooms it edits and deletes | moderates |
//! | --- | --- | --- | --- |
//! | `admin` | all | all, and sets their owner | all |
//! | `webservice` (Bearer only) | all | all, and sets their owner | — (API only) |
//! | `organiser` | public, own, member or moderator of | own (creates rooms, owned by it) | own, and those it moderates |
//! | `user` | public, member or moderator of | none | those it moderates |
//! | `guest` | the room of its invitation | none | as its invitation says |
//!
//! A room's owner is a moderator of it (`RoomRow::is_moderator`) whatever its role.
//!
//! Accounts are managed by admins and webservice accounts (`Manager`), and no one gives a
//! role above their own or touches an account above their own: a webservice account (a
//! leaked integration key) manages users, organisers and other webservice accounts, but
//! never creates, promotes, changes or deletes an administrator.

use super::{Caller, Via};
use crate::ids::UserId;
use crate::store::{Role, RoomRow};

/// An administrator of the API: an admin, or a webservice account by Bearer token (never
/// through the browser's cookie). What the `Manager` extractor admits.
pub fn is_manager(caller: &Caller) -> bool {
    match caller.user.role {
        Role::Admin => true,
        Role::Webservice => caller.via == Via::Bearer,
        _ => false,
    }
}

/// How far a role reaches, for the rule that no one hands out more than they have.
fn rank(role: Role) -> u8 {
    match role {
        Role::Guest => 0,
        Role::User => 1,
        Role::Organiser => 2,
        Role::Webservice => 3,
        Role::Admin => 4,
    }
}

/// May give `role` to an account (creating it, or changing an account's role): a manager,
/// and never a role above its own.
pub fn may_grant_role(caller: &Caller, role: Role) -> bool {
    is_manager(caller) && rank(role) <= rank(caller.user.role)
}

/// May change (password, name, role, enabled) or delete an account whose role is
/// `target`: a manager, and never an account above its own (setting an administrator's
/// password would be a takeover).
pub fn may_manage_account(caller: &Caller, target: Role) -> bool {
    is_manager(caller) && rank(target) <= rank(caller.user.role)
}

/// May create rooms (it then owns them).
pub fn may_create_room(caller: &Caller) -> bool {
    is_manager(caller) || caller.user.role == Role::Organiser
}

/// May see the room: find it in the list, read it, see who is in it, enter it.
pub fn may_see_room(caller: &Caller, room: &RoomRow) -> bool {
    match caller.user.role {
        Role::Admin | Role::Webservice => is_manager(caller),
        Role::Organiser | Role::User => room.admits(caller.user.id),
        // Never a room merely because it is public: only the room of its invitation.
        Role::Guest => caller.guest.is_some_and(|g| g.room == room.id),
    }
}

/// Owns the room and, as an organiser, runs it.
fn runs(caller: &Caller, room: &RoomRow) -> bool {
    caller.user.role == Role::Organiser && room.owner == Some(caller.user.id)
}

/// May change the room's definition (name, kind, capacity, access, members, moderators).
pub fn may_edit_room(caller: &Caller, room: &RoomRow) -> bool {
    is_manager(caller) || runs(caller, room)
}

/// May delete the room.
pub fn may_delete_room(caller: &Caller, room: &RoomRow) -> bool {
    may_edit_room(caller, room)
}

/// May choose or change who owns a room (anyone else gets rooms owned by themselves).
pub fn may_set_owner(caller: &Caller) -> bool {
    is_manager(caller)
}

/// Is a moderator in the live room: an admin, the owner, or a named moderator.
pub fn moderates(role: Role, user: UserId, room: &RoomRow) -> bool {
    role == Role::Admin || room.is_moderator(user)
}

/// May moderate the room (kick, mute, grant rights) once in it.
pub fn may_moderate(caller: &Caller, room: &RoomRow) -> bool {
    moderates(caller.user.role, caller.user.id, room)
}

/// May invite people to the room (create, list and revoke its invitations): whoever edits
/// it, and its moderators with an account of their own.
pub fn may_invite(caller: &Caller, room: &RoomRow) -> bool {
    may_edit_room(caller, room) || (caller.user.role != Role::Guest && may_moderate(caller, room))
}

/// May read the directory of accounts (id, login, display name) to choose a room's members
/// and moderators: whoever creates rooms.
pub fn may_list_people(caller: &Caller) -> bool {
    may_create_room(caller)
}

/// May change its own password (guests have none).
pub fn may_change_own_password(caller: &Caller) -> bool {
    caller.user.role != Role::Guest
}

/// May this account be in the room at all (checked at entry and again, live, whenever
/// the room or the account changes): an administrator always; a guest by its
/// invitation, which is checked as it takes its seat; anyone else if the room admits them.
pub fn may_be_in_room(role: Role, user: UserId, room: &RoomRow) -> bool {
    matches!(role, Role::Admin | Role::Guest) || room.admits(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RoomId;
    use crate::store::{RoomKind, UserRow};

    fn caller(id: i64, role: Role, via: Via) -> Caller {
        Caller {
            user: UserRow {
                id: UserId(id),
                login: format!("u{id}"),
                role,
                display_name: String::new(),
                enabled: true,
                created_at: 0,
                language: None,
            },
            sid: String::new(),
            via,
            guest: None,
        }
    }

    fn room(public: bool, owner: Option<i64>, members: &[i64], moderators: &[i64]) -> RoomRow {
        RoomRow {
            id: RoomId(1),
            name: "R".into(),
            kind: RoomKind::Conference,
            capacity: 10,
            public,
            comment: String::new(),
            members: members.iter().copied().map(UserId).collect(),
            moderators: moderators.iter().copied().map(UserId).collect(),
            created_at: 0,
            owner: owner.map(UserId),
            waiting_room: false,
        }
    }

    #[test]
    fn the_roles_rules() {
        let admin = caller(1, Role::Admin, Via::Cookie);
        let ws = caller(2, Role::Webservice, Via::Bearer);
        let ws_cookie = caller(2, Role::Webservice, Via::Cookie);
        let olga = caller(3, Role::Organiser, Via::Cookie);
        let otto = caller(4, Role::Organiser, Via::Bearer);
        let ulla = caller(5, Role::User, Via::Cookie);
        let private = room(false, Some(3), &[], &[]);
        let public = room(true, Some(3), &[], &[]);
        let membered = room(false, Some(4), &[3, 5], &[]);

        for c in [&admin, &ws, &olga, &otto] {
            assert!(may_create_room(c), "{:?}", c.user.role);
        }
        assert!(!may_create_room(&ulla) && !may_create_room(&ws_cookie));

        assert!(may_see_room(&admin, &private) && may_see_room(&ws, &private));
        assert!(!may_see_room(&ws_cookie, &private));
        assert!(
            may_see_room(&olga, &private),
            "the owner sees its private room"
        );
        assert!(!may_see_room(&otto, &private) && !may_see_room(&ulla, &private));
        assert!(may_see_room(&otto, &public) && may_see_room(&ulla, &public));
        assert!(may_see_room(&olga, &membered) && may_see_room(&ulla, &membered));

        assert!(may_edit_room(&olga, &private) && may_delete_room(&olga, &public));
        assert!(!may_edit_room(&otto, &public) && !may_edit_room(&ulla, &public));
        assert!(!may_edit_room(&olga, &membered), "a member does not edit");
        assert!(may_edit_room(&admin, &membered) && may_edit_room(&ws, &membered));
        assert!(may_set_owner(&admin) && may_set_owner(&ws) && !may_set_owner(&olga));

        assert!(may_moderate(&olga, &private) && may_moderate(&admin, &private));
        assert!(!may_moderate(&otto, &private) && !may_moderate(&ulla, &public));
        let moderated = room(true, None, &[], &[5]);
        assert!(may_moderate(&ulla, &moderated) && may_invite(&ulla, &moderated));
        assert!(may_invite(&olga, &public) && !may_invite(&otto, &public));
        // A user who owns a room (an admin set it so) moderates it but does not edit it.
        let owned_by_user = room(false, Some(5), &[], &[]);
        assert!(may_moderate(&ulla, &owned_by_user) && may_see_room(&ulla, &owned_by_user));
        assert!(!may_edit_room(&ulla, &owned_by_user));
        assert!(may_list_people(&olga) && !may_list_people(&ulla));
        // A guest sees the room of its invitation only, public or not.
        let mut gus = caller(6, Role::Guest, Via::Bearer);
        assert!(!may_see_room(&gus, &public));
        gus.guest = Some(crate::store::GuestGrant {
            room: RoomId(1),
            invitation: 1,
            moderator: false,
            expires_at: 0,
        });
        assert!(may_see_room(&gus, &private) && !may_edit_room(&gus, &private));
        assert!(!may_invite(&gus, &private) && !may_change_own_password(&gus));
    }

    #[test]
    fn no_one_hands_out_more_than_they_have() {
        let admin = caller(1, Role::Admin, Via::Cookie);
        let ws = caller(2, Role::Webservice, Via::Bearer);
        let ws_cookie = caller(2, Role::Webservice, Via::Cookie);
        let olga = caller(3, Role::Organiser, Via::Bearer);
        let all = [
            Role::Guest,
            Role::User,
            Role::Organiser,
            Role::Webservice,
            Role::Admin,
        ];
        for role in all {
            assert!(may_grant_role(&admin, role) && may_manage_account(&admin, role));
            assert!(!may_grant_role(&ws_cookie, role) && !may_manage_account(&ws_cookie, role));
            assert!(!may_grant_role(&olga, role) && !may_manage_account(&olga, role));
            let below_admin = role != Role::Admin;
            assert_eq!(may_grant_role(&ws, role), below_admin, "{role:?}");
            assert_eq!(may_manage_account(&ws, role), below_admin, "{role:?}");
        }
    }
}
