"""File and collection names shared across seiflow."""

SETTINGS_FILE = "seiflow.yaml"
LAUNCHPAD_FILE = "launchpad.yaml"
FWORKER_FILE = "my_fworker.yaml"

# Collections in the LaunchPad's database (seiflow keeps everything on one database).
FRAMES_COLLECTION = "frames"
MODELS_COLLECTION = "models"
ROUNDS_COLLECTION = "rounds"
CAMPAIGNS_COLLECTION = "campaigns"
JOBSTORE_DOCS_COLLECTION = "jobflow_outputs"
JOBSTORE_DATA_BUCKET = "jobflow_data"  # GridFS bucket for large job outputs
ARRAYS_BUCKET = "arrays"  # GridFS bucket for frame arrays, models and trajectories

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = 27101
EMBEDDED_PID_FILE = "secantusd.pid"
EMBEDDED_LOG_FILE = "secantusd.log"
