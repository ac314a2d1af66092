//! Newtype ids, so a door id is never passed where a camera id belongs.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

id_type!(
    /// A camera of the site.
    CameraId
);
id_type!(
    /// A door (an access-controlled opening).
    DoorId
);
id_type!(
    /// A reader at a door.
    AccessPointId
);
id_type!(
    /// A person known to the access control system.
    CardholderId
);
id_type!(
    /// A badge number.
    CredentialId
);
id_type!(
    /// A floor plan.
    MapId
);
id_type!(
    /// An operator-aided passage request.
    RequestId
);
id_type!(
    /// A door command, as answered by the site.
    CommandId
);
id_type!(
    /// A view shared on the site (chosen by whoever publishes it).
    ViewId
);
