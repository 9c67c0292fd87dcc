# Tutorial 1's task worker, as written there; only the server's host, port and
# authkey come from MANAGER_HOST, MANAGER_PORT and MANAGER_AUTHKEY when set.
import os
import time
from multiprocessing.managers import BaseManager
# 创建类似的QueueManager:
class QueueManager(BaseManager):
    pass
# 实现第一步:使用QueueManager注册获取Queue的方法名称
QueueManager.register('get_task_queue')
QueueManager.register('get_result_queue')
# 实现第二步:连接到服务器:
server_addr = os.environ.get('MANAGER_HOST', '127.0.0.1')
print('Connect to server %s...' % server_addr)
# 端口和验证口令注意保持与服务进程设置的完全一致:
m = QueueManager(address=(server_addr, int(os.environ.get('MANAGER_PORT', '8001'))),
                 authkey=os.environ.get('MANAGER_AUTHKEY', 'qiye').encode())
# 从网络连接:
m.connect()
# 实现第三步:获取Queue的对象:
task = m.get_task_queue()
result = m.get_result_queue()
# 实现第四步:从task队列取任务,并把结果写入result队列:
while(not task.empty()):
    image_url = task.get(True,timeout=5)
    print('run task download %s...' % image_url)
    time.sleep(1)
    result.put('%s--->success'%image_url)
# 处理结束:
print('worker exit.')
