"""The one metrics record every track writes, and error metrics shared by the tracks."""
